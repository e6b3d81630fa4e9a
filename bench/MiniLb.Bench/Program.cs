using BenchmarkDotNet.Running;

MiniLb.Operator.MessageIds.UseForArSoft(); // as the binary's Main: ARSoft's message IDs from getrandom, not OpenSSL
BenchmarkSwitcher.FromAssembly(typeof(MiniLb.Bench.SyntheticCluster).Assembly).Run(args);
