using System.Collections.Concurrent;
using System.Net;
using MiniLb.Operator.Liveness;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>A probe that answers for every address except those made <see cref="Silent"/>; sends nothing.</summary>
public sealed class FakeNodeProbe : INodeProbe
{
    private readonly ConcurrentDictionary<IPAddress, bool> silent = new();
    private int probes;

    public int Probes => probes;

    public void Silent(string address, bool isSilent = true) => silent[IPAddress.Parse(address)] = isSilent;

    public Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
    {
        Interlocked.Increment(ref probes);
        return Task.FromResult(silent.GetValueOrDefault(target.Address)
            ? new ProbeResult(false, $"no answer within {timeout.TotalMilliseconds:0} ms")
            : new ProbeResult(true, "connection refused (the host answered)"));
    }
}
