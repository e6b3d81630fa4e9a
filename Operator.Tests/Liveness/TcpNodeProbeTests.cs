using System.Net;
using System.Net.Sockets;
using MiniLb.Operator.Liveness;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>The real TCP probe on loopback: accept and reset mean up, silence means down.</summary>
public class TcpNodeProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    [Test]
    public async Task A_listening_port_answers()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();

        var result = await new TcpNodeProbe().ProbeAsync((IPEndPoint)listener.LocalEndPoint!, Timeout, CancellationToken.None);
        Assert.That(result, Is.EqualTo(new ProbeResult(true, "connection accepted")));
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
        var result = await new TcpNodeProbe().ProbeAsync(new IPEndPoint(IPAddress.Loopback, port), Timeout, CancellationToken.None);
        Assert.That(result.Answered, Is.True, result.Detail);
        Assert.That(result.Detail, Does.Contain("refused"));
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
                result = await new TcpNodeProbe().ProbeAsync(target, Timeout, CancellationToken.None);
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
}
