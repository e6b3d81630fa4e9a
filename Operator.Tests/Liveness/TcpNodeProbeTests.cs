using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Liveness;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>The real TCP probe on loopback: accept and reset mean up, silence means down; an accepted connection is held.</summary>
public class TcpNodeProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);
    private static readonly LivenessSettings Settings = LivenessSettings.Default;

    [Test]
    public async Task A_listening_port_answers()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var probe = new TcpNodeProbe();

        var result = await probe.ProbeAsync((IPEndPoint)listener.LocalEndPoint!, Timeout, CancellationToken.None);
        Assert.That(result, Is.EqualTo(new ProbeResult(true, "connection accepted")));
    }

    [Test]
    public async Task Repeated_probes_of_a_listening_node_hold_one_connection()
    {
        using var node = new CountingNode();
        using var probe = new TcpNodeProbe();

        var results = new List<ProbeResult>();
        for (var i = 0; i < 5; i++)
            results.Add(await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None));

        Assert.That(results.Select(r => r.Detail), Is.EqualTo(new[] { "connection accepted" }.Concat(Enumerable.Repeat("answered (connection held)", 4))));
        Assert.That(results.All(r => r.Answered));
        await Task.Delay(200); // an accept of a second connection would be counted by now
        Assert.That(node.Accepted, Is.EqualTo(1));
    }

    [Test]
    public async Task A_node_that_closes_the_held_connection_answered_and_is_connected_again()
    {
        using var node = new CountingNode();
        using var probe = new TcpNodeProbe();
        await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        await node.WaitForAcceptsAsync(1);

        node.CloseAll(); // kubelet restarted, or it dropped an idle connection
        var closed = await ProbeUntilAsync(probe, node.EndPoint, r => r.Detail != "answered (connection held)");
        var again = await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);

        Assert.That(closed.Answered, Is.True, closed.Detail);
        Assert.That(closed.Detail, Does.Contain("closed the held connection"));
        Assert.That(again, Is.EqualTo(new ProbeResult(true, "connection accepted")));
        await node.WaitForAcceptsAsync(2);
    }

    [Test]
    public async Task Held_nodes_make_the_probe_quiet_until_one_connection_ends()
    {
        using var node = new CountingNode();
        using var other = new CountingNode();
        using var probe = new TcpNodeProbe();
        IPEndPoint[] both = [node.EndPoint, other.EndPoint];

        Assert.That(probe.QuietUntilOneEnds(both), Is.Null, "nothing is held before the first probe");
        await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        Assert.That(probe.QuietUntilOneEnds(both), Is.Null, "one of the two is not held yet");
        await probe.ProbeAsync(other.EndPoint, Timeout, CancellationToken.None);
        await node.WaitForAcceptsAsync(1);

        var quiet = probe.QuietUntilOneEnds(both);
        Assert.That(quiet, Is.Not.Null, "both are held");
        await Task.Delay(300);
        Assert.That(quiet!.IsCompleted, Is.False, "nothing ended");

        node.CloseAll(); // kubelet restarted
        await quiet.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(probe.QuietUntilOneEnds(both), Is.Null, "an ended connection needs a round to be seen");
        var seen = await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        Assert.That(seen.Detail, Does.Contain("closed the held connection"));
    }

    [Test]
    public async Task A_closed_port_answers_with_a_reset_which_means_the_host_is_up()
    {
        int port;
        using (var probeOnly = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probeOnly.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probeOnly.LocalEndPoint!).Port;
        }
        using var probe = new TcpNodeProbe();
        for (var round = 0; round < 3; round++)
        {
            // Nothing to hold: every round asks again, and every answer counts.
            var result = await probe.ProbeAsync(new IPEndPoint(IPAddress.Loopback, port), Timeout, CancellationToken.None);
            Assert.That(result.Answered, Is.True, result.Detail);
            Assert.That(result.Detail, Does.Contain("refused"));
        }
    }

    [Test]
    public async Task A_node_no_longer_probed_has_its_connection_closed()
    {
        using var node = new CountingNode();
        using var probe = new TcpNodeProbe();
        await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        var held = await node.WaitForAcceptsAsync(1);

        probe.Keep(Settings with { Port = node.EndPoint.Port }, [IPAddress.Parse("127.0.0.2")]);

        Assert.That(await ClosedByPeerAsync(held), Is.True, "the connection to a node that left the targets stays open");
    }

    [Test]
    public async Task A_node_still_probed_keeps_its_connection()
    {
        using var node = new CountingNode();
        using var probe = new TcpNodeProbe();
        await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        var held = await node.WaitForAcceptsAsync(1);

        probe.Keep(Settings with { Port = node.EndPoint.Port }, [IPAddress.Loopback]);

        Assert.That(await ClosedByPeerAsync(held), Is.False);
        Assert.That(await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None), Is.EqualTo(new ProbeResult(true, "answered (connection held)")));
    }

    [TestCase("interval")]
    [TestCase("port")]
    public async Task Changed_settings_close_every_held_connection(string changed)
    {
        using var node = new CountingNode();
        using var probe = new TcpNodeProbe();
        var settings = Settings with { Port = node.EndPoint.Port };
        probe.Keep(settings, [IPAddress.Loopback]);
        await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        var held = await node.WaitForAcceptsAsync(1);

        probe.Keep(changed == "port" ? settings with { Port = 1 } : settings with { Interval = TimeSpan.FromSeconds(3) }, [IPAddress.Loopback]);

        Assert.That(await ClosedByPeerAsync(held), Is.True);
    }

    [Test]
    public async Task Disposing_the_probe_closes_its_connections()
    {
        using var node = new CountingNode();
        var probe = new TcpNodeProbe();
        await probe.ProbeAsync(node.EndPoint, Timeout, CancellationToken.None);
        var held = await node.WaitForAcceptsAsync(1);

        probe.Dispose();

        Assert.That(await ClosedByPeerAsync(held), Is.True);
    }

    [Test]
    public async Task The_loop_holds_one_connection_per_node_and_closes_it_when_the_node_leaves_the_targets()
    {
        using var node = new CountingNode();
        using var probe = new TcpNodeProbe();
        var targets = new Dictionary<string, IPAddress> { ["node-a"] = IPAddress.Loopback };
        var loop = new NodeLivenessLoop(probe, NullLogger<NodeLivenessLoop>.Instance) { Targets = () => targets, Settings = Settings with { Port = node.EndPoint.Port } };

        for (var round = 0; round < 3; round++)
            await loop.ProbeOnceAsync(CancellationToken.None);
        var held = await node.WaitForAcceptsAsync(1);
        Assert.That(loop.States()["node-a"].Reachable);
        targets.Clear();
        await loop.ProbeOnceAsync(CancellationToken.None);

        Assert.That(await ClosedByPeerAsync(held), Is.True);
        Assert.That(node.Accepted, Is.EqualTo(1));
    }

    [Test]
    public async Task Silence_until_the_timeout_means_down()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("relies on Linux dropping SYNs to a listener whose accept queue is full");
        // A listener that never accepts, with its queue filled: Linux drops further SYNs, as a dead host would.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var target = (IPEndPoint)listener.LocalEndPoint!;
        var fillers = new List<Socket>();
        try
        {
            ProbeResult result;
            do
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                // A fresh probe each time: one that held the first connection would answer from it.
                using var probe = new TcpNodeProbe();
                result = await probe.ProbeAsync(target, Timeout, CancellationToken.None);
                _ = filler.ConnectAsync(target);
            }
            while (result.Answered && fillers.Count < 10);

            Assert.That(result.Answered, Is.False, "the queue never filled");
            Assert.That(result.Detail, Is.EqualTo("no answer within 300 ms"));
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    private static async Task<ProbeResult> ProbeUntilAsync(TcpNodeProbe probe, IPEndPoint target, Func<ProbeResult, bool> done)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(5); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            var result = await probe.ProbeAsync(target, Timeout, CancellationToken.None);
            if (done(result))
                return result;
        }
        throw new TimeoutException("the probe never saw the held connection end");
    }

    /// <summary>True when the other side closed or reset <paramref name="accepted"/> within a second.</summary>
    private static async Task<bool> ClosedByPeerAsync(Socket accepted)
    {
        try
        {
            return await accepted.ReceiveAsync(new ArraySegment<byte>(new byte[1])).WaitAsync(TimeSpan.FromSeconds(1)) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>A node's listener on loopback that accepts, counts and keeps every connection (sends nothing, as kubelet's TLS server waits for a hello).</summary>
    private sealed class CountingNode : IDisposable
    {
        private readonly Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly ConcurrentQueue<Socket> accepted = new();

        public CountingNode()
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            EndPoint = (IPEndPoint)listener.LocalEndPoint!;
            _ = AcceptAsync();
        }

        public IPEndPoint EndPoint { get; }

        public int Accepted => accepted.Count;

        /// <summary>The last connection accepted once <paramref name="count"/> were.</summary>
        public async Task<Socket> WaitForAcceptsAsync(int count)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(5); accepted.Count < count; await Task.Delay(10))
            {
                if (DateTime.UtcNow > deadline)
                    Assert.Fail($"{accepted.Count} connection(s) accepted, expected {count}");
            }
            return accepted.Last();
        }

        public void CloseAll()
        {
            foreach (var connection in accepted)
                connection.Dispose();
        }

        public void Dispose()
        {
            listener.Dispose();
            CloseAll();
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                    accepted.Enqueue(await listener.AcceptAsync());
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
