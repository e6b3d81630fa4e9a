using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>The TCP transport closes what ARSoft 3.6.1 left open (CLOSE-WAIT sockets until process exit).</summary>
public class TcpTransportTests
{
    private static MiniLb.Operator.Resolution.Zone Zone()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.244.0.11", "10.244.1.12")));
        return model.Publish();
    }

    private static int CloseWaitSockets(int port) => ProcessSockets.Tcp(port, ProcessSockets.CloseWait);

    private static Task<bool> Eventually(Func<bool> condition) => ProcessSockets.Eventually(condition);

    [Test]
    public async Task Connections_closed_by_clients_are_closed_by_the_server()
    {
        if (!File.Exists("/proc/net/tcp"))
            Assert.Ignore("needs Linux /proc/net/tcp to see CLOSE-WAIT sockets");
        await using var server = TestDnsServer.Start(Zone());

        for (var i = 0; i < 60; i++)
        {
            using var socket = await server.ConnectAsync();
            if (i % 3 != 0)
            {
                await TestDnsServer.SendTcpAsync(socket, RawQuery.Build("web.default.minilb", id: (ushort)i));
                Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Not.Null, $"answer on connection {i}");
            }
            socket.Shutdown(SocketShutdown.Both);
        }

        Assert.That(await Eventually(() => server.Host.OpenTcpConnections == 0), Is.True, $"{server.Host.OpenTcpConnections} connections still open");
        Assert.That(await Eventually(() => CloseWaitSockets(server.Port) == 0), Is.True, $"{CloseWaitSockets(server.Port)} sockets in CLOSE-WAIT");
    }

    [Test]
    public async Task An_idle_connection_is_closed_after_the_idle_timeout()
    {
        var time = new FakeTimeProvider();
        await using var server = TestDnsServer.Start(Zone(), new DnsHostOptions { Time = time, TcpIdleTimeout = TimeSpan.FromSeconds(10) });
        using var socket = await server.ConnectAsync();
        await TestDnsServer.SendTcpAsync(socket, RawQuery.Build("web.default.minilb"));
        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Not.Null);

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(server.Host.OpenTcpConnections, Is.EqualTo(1), "not idle long enough yet");

        // The server's idle timer starts when it waits for the next query; keep time moving until it fires.
        Assert.That(await Eventually(() =>
        {
            time.Advance(TimeSpan.FromSeconds(6));
            return server.Host.OpenTcpConnections == 0;
        }), Is.True);
        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Null, "the client sees the close");
    }

    [Test]
    public async Task Pipelined_queries_on_one_connection_are_all_answered()
    {
        await using var server = TestDnsServer.Start(Zone());
        using var socket = await server.ConnectAsync();

        await TestDnsServer.SendTcpAsync(socket, [.. Enumerable.Range(1, 5).Select(i => RawQuery.Build("web.default.minilb", id: (ushort)i))]);

        var ids = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            var reply = await TestDnsServer.ReceiveTcpAsync(socket);
            Assert.That(reply, Is.Not.Null, $"reply {i + 1} of 5");
            ids.Add(DnsMessage.Parse(reply!).TransactionID);
        }
        Assert.That(ids, Is.EquivalentTo(new[] { 1, 2, 3, 4, 5 }), "replies may come in any order (RFC 7766)");
    }

    [Test]
    public async Task A_client_that_half_closes_after_its_query_still_gets_the_answer_then_the_close()
    {
        await using var server = TestDnsServer.Start(Zone());
        using var socket = await server.ConnectAsync();

        await TestDnsServer.SendTcpAsync(socket, RawQuery.Build("web.default.minilb"));
        socket.Shutdown(SocketShutdown.Send);

        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Not.Null);
        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Null);
        Assert.That(await Eventually(() => server.Host.OpenTcpConnections == 0), Is.True);
    }

    [Test]
    public async Task Stopping_the_host_closes_open_connections()
    {
        var server = TestDnsServer.Start(Zone());
        using var socket = await server.ConnectAsync();
        Assert.That(await Eventually(() => server.Host.OpenTcpConnections == 1), Is.True);

        await server.DisposeAsync();

        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Null);
        Assert.That(server.Host.OpenTcpConnections, Is.Zero);
    }

    [Test]
    public async Task Connections_above_the_limit_are_closed_at_once()
    {
        await using var server = TestDnsServer.Start(Zone(), new DnsHostOptions { MaxTcpConnections = 2 });
        using var first = await server.ConnectAsync();
        using var second = await server.ConnectAsync();
        Assert.That(await Eventually(() => server.Host.OpenTcpConnections == 2), Is.True);

        using var third = await server.ConnectAsync();
        await TestDnsServer.SendTcpAsync(third, RawQuery.Build("web.default.minilb"));
        Assert.That(await TestDnsServer.ReceiveTcpAsync(third), Is.Null, "over the limit");

        await TestDnsServer.SendTcpAsync(first, RawQuery.Build("web.default.minilb"));
        Assert.That(await TestDnsServer.ReceiveTcpAsync(first), Is.Not.Null, "connections within the limit still work");
    }
}
