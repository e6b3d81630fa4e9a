using BenchmarkDotNet.Attributes;
using MiniLb.Operator.Resolution;

namespace MiniLb.Bench;

/// <summary>
/// What per-pod names cost on the update path: one EndpointSlice change + Publish at 1,000 Services, whose
/// endpoints carry no hostname (as most pods) or all carry one (every Service a StatefulSet's).
/// </summary>
[MemoryDiagnoser]
public class PodNameBenchmarks
{
    private const int Services = 1_000;
    private ClusterModel model = null!;
    private int generation;

    [Params(false, true)]
    public bool Hostnames { get; set; }

    [GlobalSetup]
    public void Setup() => model = SyntheticCluster.Model(Services, Hostnames);

    [Benchmark(Description = "one EndpointSlice change + Publish")]
    public Zone ChangeOneSlice()
    {
        generation ^= 1;
        model.Upsert(SyntheticCluster.Slice(Services / 2, generation, Hostnames));
        return model.Publish();
    }
}
