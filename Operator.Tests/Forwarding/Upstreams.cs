using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Tests.Dns;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary>
/// Upstreams for forwarding tests, all on loopback: a resolver that answers (a second DNS host, authoritative for
/// <c>test</c>, on 127.0.0.3), one that never answers, and a port where nothing listens.
/// </summary>
internal static class Upstreams
{
    public static readonly IPAddress ResolverAddress = IPAddress.Parse("127.0.0.3");

    public static readonly string[] WwwAddresses = ["192.0.2.10", "192.0.2.11"];

    /// <summary>300 addresses: about 4.8 KB, too large for any UDP answer.</summary>
    public static readonly string[] BigAddresses = [.. Enumerable.Range(0, 300).Select(i => $"198.18.{i / 200}.{i % 200 + 1}")];

    /// <summary>www.example.test and big.example.test on 127.0.0.3; <paramref name="asked"/> counts the queries it answers.</summary>
    public static TestDnsServer Resolver(Action? asked = null)
    {
        var model = new ClusterModel(new ZoneSettings { Domain = "test" });
        model.Upsert(Service("example", "www"));
        model.Upsert(Slice("example", "www", "www-1", "IPv4", Ready(WwwAddresses)));
        model.Upsert(Service("example", "big"));
        model.Upsert(Slice("example", "big", "big-1", "IPv4", Ready(BigAddresses)));
        return TestDnsServer.Start(model.Publish(), new DnsHostOptions { Answered = asked is null ? null : (_, _, _, _) => asked() }, listen: $"{ResolverAddress}:0");
    }

    /// <summary>A port where nothing listens: UDP gets ICMP port unreachable, TCP a reset.</summary>
    public static IPEndPoint Down()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.4"), 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>Receives UDP and accepts TCP on one port, and never says a word.</summary>
    public sealed class Silent : IDisposable
    {
        private readonly Socket udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly Socket tcp = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public Silent()
        {
            udp.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.5"), 0));
            EndPoint = (IPEndPoint)udp.LocalEndPoint!;
            tcp.Bind(EndPoint);
            tcp.Listen(100); // connections complete in the backlog and are never read
        }

        public IPEndPoint EndPoint { get; }

        public void Dispose()
        {
            udp.Dispose();
            tcp.Dispose();
        }
    }

    /// <summary>A UDP query to <paramref name="server"/> from <paramref name="from"/> (a loopback address); the reply or null.</summary>
    public static async Task<byte[]?> UdpFromAsync(IPAddress from, IPEndPoint server, byte[] query, TimeSpan? wait = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(server);
        await socket.SendAsync(query);
        var buffer = new byte[ushort.MaxValue];
        using var timeout = new CancellationTokenSource(wait ?? TestDnsServer.Patience);
        try
        {
            return buffer[..await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>A TCP query to <paramref name="server"/> from <paramref name="from"/>; the reply (without its length) or null.</summary>
    public static async Task<byte[]?> TcpFromAsync(IPAddress from, IPEndPoint server, byte[] query)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(server);
        await TestDnsServer.SendTcpAsync(socket, query);
        return await TestDnsServer.ReceiveTcpAsync(socket, TestDnsServer.Patience);
    }

    /// <summary>The A records' addresses of a reply.</summary>
    public static string[] Addresses(DnsMessage reply) => [.. reply.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()).Order()];
}
