using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(MiniLb.Bench.SyntheticCluster).Assembly).Run(args);
