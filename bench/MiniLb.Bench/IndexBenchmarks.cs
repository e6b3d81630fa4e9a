using BenchmarkDotNet.Attributes;
using MiniLb.Operator.Resolution;

namespace MiniLb.Bench;

/// <summary>The run-mode update path: one EndpointSlice changes (one endpoint moves) and a new zone is published.</summary>
[MemoryDiagnoser]
public class IndexBenchmarks
{
    private ClusterModel model = null!;
    private int generation;

    [Params(1_000, 10_000)]
    public int Services { get; set; }

    [GlobalSetup]
    public void Setup() => model = SyntheticCluster.Model(Services);

    [Benchmark(Description = "one EndpointSlice change + Publish")]
    public Zone ChangeOneSlice()
    {
        generation ^= 1;
        model.Upsert(SyntheticCluster.Slice(Services / 2, generation));
        return model.Publish();
    }
}
