using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Liveness;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>
/// The liveness loop sleeps while a round cannot tell anything new (every node held, no nodes, liveness off) and wakes
/// when that changes: a held connection ends, or the nodes to probe or the settings may have changed. Real clock,
/// the shortest interval (200 ms); the assertions count rounds, with margins of several intervals.
/// </summary>
public sealed class QuietLoopTests
{
    private static readonly LivenessSettings Fast = new(true, 10250, TimeSpan.FromMilliseconds(200), 2);
    private static readonly Dictionary<string, IPAddress> OneNode = new() { ["node-a"] = IPAddress.Parse("192.0.2.11") };

    [Test]
    public async Task Held_nodes_are_not_probed_again_until_a_connection_ends_or_the_targets_change()
    {
        var probe = new HoldingProbe();
        var loop = new NodeLivenessLoop(probe, NullLogger<NodeLivenessLoop>.Instance) { Targets = () => OneNode, Settings = Fast };
        await WhileRunningAsync(loop, async () =>
        {
            await WaitForAsync(() => probe.Probes >= 1);
            await Task.Delay(1000); // five intervals
            Assert.That(probe.Probes, Is.EqualTo(1), "a held node was probed again though nothing changed");

            loop.Poke(); // a Service, EndpointSlice or Node changed
            await WaitForAsync(() => probe.Probes >= 2);

            probe.EndOne(); // the kernel's keepalive gave up, or kubelet closed the connection
            await WaitForAsync(() => probe.Probes >= 3);
            await Task.Delay(1000);
            Assert.That(probe.Probes, Is.EqualTo(3), "quiet again once the round saw every node held");
        });
    }

    [Test]
    public async Task A_probe_that_holds_nothing_is_asked_every_interval()
    {
        var probe = new FakeNodeProbe();
        var loop = new NodeLivenessLoop(probe, NullLogger<NodeLivenessLoop>.Instance) { Targets = () => OneNode, Settings = Fast };
        await WhileRunningAsync(loop, () => WaitForAsync(() => probe.Probes >= 4));
    }

    [Test]
    public async Task Liveness_off_sleeps_until_it_is_switched_on()
    {
        var probe = new HoldingProbe();
        var loop = new NodeLivenessLoop(probe, NullLogger<NodeLivenessLoop>.Instance)
        {
            Targets = () => OneNode,
            Settings = Fast with { Enabled = false },
        };
        await WhileRunningAsync(loop, async () =>
        {
            await Task.Delay(1000);
            Assert.That(probe.Probes, Is.Zero, "liveness is off");

            loop.Settings = Fast; // kubectl edit minilbconfig: nodeLiveness.enabled: true
            await WaitForAsync(() => probe.Probes >= 1);
        });
    }

    private static async Task WhileRunningAsync(NodeLivenessLoop loop, Func<Task> body)
    {
        using var stop = new CancellationTokenSource();
        var running = loop.RunAsync(stop.Token);
        try
        {
            await body();
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(5); !condition(); await Task.Delay(20))
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail("the loop did not run the round it should have within 5 s");
        }
    }

    /// <summary>Answers every probe and holds every node, like <see cref="TcpNodeProbe"/> with kubelets that accept.</summary>
    private sealed class HoldingProbe : INodeProbe
    {
        private TaskCompletionSource ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int probes;

        public int Probes => Volatile.Read(ref probes);

        public Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
        {
            Interlocked.Increment(ref probes);
            return Task.FromResult(new ProbeResult(true, "answered (connection held)"));
        }

        public Task? QuietUntilOneEnds(IEnumerable<IPEndPoint> targets) => Volatile.Read(ref ended).Task;

        public void EndOne() => Interlocked.Exchange(ref ended, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
