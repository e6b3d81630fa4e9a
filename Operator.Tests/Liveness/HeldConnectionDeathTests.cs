using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Tests.Lab;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>
/// A node that dies while its connection is held: a network namespace behind a veth pair plays the node, with a
/// listener on the kubelet's port (its kernel answers the handshake and the keepalives; nothing accepts). Its
/// address is then removed, so everything sent to it is dropped in silence, as to a powered-off host.
/// </summary>
[NonParallelizable]
public sealed class HeldConnectionDeathTests
{
    private const string HostSide = "198.19.250.1";
    private const string NodeSide = "198.19.250.2";

    [Test]
    public async Task A_node_that_goes_silent_while_held_turns_unreachable_within_the_detection_time()
    {
        if (Netns.Unavailable() is { } why)
            Assert.Ignore($"needs a network namespace: {why}");
        var ns = $"mlhp{Environment.ProcessId}";
        var (host, peer) = ($"mlhp{Environment.ProcessId % 100000}a", $"mlhp{Environment.ProcessId % 100000}b");
        try
        {
            await Ip("netns", "add", ns);
            await Ip("link", "add", host, "type", "veth", "peer", "name", peer);
            await Ip("link", "set", peer, "netns", ns);
            await Ip("addr", "add", $"{HostSide}/30", "dev", host);
            await Ip("link", "set", host, "up");
            await Ip("-n", ns, "addr", "add", $"{NodeSide}/30", "dev", peer);
            await Ip("-n", ns, "link", "set", peer, "up");
            using var kubelet = Netns.ListenIn(ns, new IPEndPoint(IPAddress.Parse(NodeSide), 10250));

            using var probe = new TcpNodeProbe();
            var settings = LivenessSettings.Default;
            var died = Stopwatch.StartNew();
            var unreachable = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
            var seen = new Recording(probe, died);
            var loop = new NodeLivenessLoop(seen, NullLogger<NodeLivenessLoop>.Instance)
            {
                Targets = () => new Dictionary<string, IPAddress> { ["node-x"] = IPAddress.Parse(NodeSide) },
                Settings = settings,
            };
            loop.Changed += changes =>
            {
                if (changes.Any(c => !c.Reachable))
                    unreachable.TrySetResult(died.Elapsed);
            };
            using var stop = new CancellationTokenSource();
            var running = loop.RunAsync(stop.Token);
            try
            {
                // Held across several keepalive periods, the node stays reachable, and the loop sleeps: the
                // kernel's keepalive watches the connection, so no round runs after the one that connected.
                await Task.Delay(3500);
                Assert.That(unreachable.Task.IsCompleted, Is.False, "a live, held node turned unreachable");
                Assert.That(loop.States()["node-x"].Reachable);
                Assert.That(seen.Results, Has.Count.EqualTo(1), $"rounds while the node was held:\n{string.Join('\n', seen.Results)}");

                await Ip("-n", ns, "addr", "del", $"{NodeSide}/30", "dev", peer);
                died.Restart();
                seen.Results.Clear();
                var after = await unreachable.Task.WaitAsync(TimeSpan.FromSeconds(15));

                TestContext.Progress.WriteLine($"held connection: node unreachable {after.TotalSeconds:0.0} s after it went silent (bound {settings.Detection.TotalSeconds:0.0} s); probes after it went silent:\n{string.Join('\n', seen.Results)}");
                Assert.That(after, Is.LessThan(settings.Detection + TimeSpan.FromSeconds(1)));
            }
            finally
            {
                await stop.CancelAsync();
                await running;
            }
        }
        finally
        {
            await Netns.RunAsync("ip", ["link", "del", host]);
            await Netns.RunAsync("ip", ["netns", "del", ns]);
        }
    }

    /// <summary>The probes' results, with the time since the node went silent.</summary>
    private sealed class Recording(INodeProbe probe, Stopwatch since) : INodeProbe
    {
        public ConcurrentQueue<string> Results { get; } = new();

        public async Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
        {
            var started = since.Elapsed;
            var result = await probe.ProbeAsync(target, timeout, ct);
            Results.Enqueue($"  {started.TotalSeconds:0.00} s: {result.Detail}");
            return result;
        }

        public void Keep(LivenessSettings settings, IEnumerable<IPAddress> targets) => probe.Keep(settings, targets);

        public Task? QuietUntilOneEnds(IEnumerable<IPEndPoint> targets) => probe.QuietUntilOneEnds(targets);
    }

    private static async Task Ip(params string[] args) => (await Netns.RunAsync("ip", args)).Check("ip " + string.Join(' ', args));
}
