using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>A <see cref="DnsHost"/> on 127.0.0.1 with a free port, and ways to talk to it: ARSoft's client or raw packets.</summary>
internal sealed class TestDnsServer : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private TestDnsServer(DnsHost host, ZoneHolder zones)
    {
        Host = host;
        Zones = zones;
    }

    public DnsHost Host { get; }
    public ZoneHolder Zones { get; }
    public IPEndPoint EndPoint => Host.EndPoints[0];
    public int Port => EndPoint.Port;

    public static TestDnsServer Start(Zone zone, DnsHostOptions? options = null, string listen = "127.0.0.1:0", ILogger<DnsHost>? logger = null)
    {
        var zones = new ZoneHolder(zone);
        return new TestDnsServer(DnsHost.Start(ListenAddress.Parse(listen), zones, options: options, logger: logger), zones);
    }

    /// <summary>ARSoft's client; UDP first, TCP after TC. It sends RD=1 and EDNS (1232).</summary>
    public DnsClient Client(bool udp = true, bool tcp = true)
    {
        var transports = new List<IClientTransport>();
        if (udp)
            transports.Add(new UdpClientTransport(Port));
        if (tcp)
            transports.Add(new TcpClientTransport(Port));
        return new DnsClient([EndPoint.Address], [.. transports], disposeTransport: true, queryTimeout: (int)Patience.TotalMilliseconds);
    }

    /// <summary>The raw UDP reply, or null when none came within <paramref name="wait"/>.</summary>
    public async Task<byte[]?> UdpAsync(byte[] query, TimeSpan? wait = null)
    {
        using var socket = new Socket(EndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(EndPoint);
        await socket.SendAsync(query);
        var buffer = new byte[ushort.MaxValue];
        using var timeout = new CancellationTokenSource(wait ?? Patience);
        try
        {
            var count = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return buffer[..count];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The raw TCP reply (without the length prefix) on a fresh connection.</summary>
    public async Task<byte[]?> TcpAsync(byte[] query)
    {
        using var client = await ConnectAsync();
        await SendTcpAsync(client, query);
        return await ReceiveTcpAsync(client);
    }

    public async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(EndPoint);
        return socket;
    }

    public static async Task SendTcpAsync(Socket socket, params byte[][] queries)
    {
        var framed = queries.SelectMany(q => BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness((ushort)q.Length)).Concat(q)).ToArray();
        await socket.SendAsync(framed);
    }

    /// <summary>One framed message, or null when the server closed the connection (or nothing came in time).</summary>
    public static async Task<byte[]?> ReceiveTcpAsync(Socket socket, TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? Patience);
        var length = new byte[2];
        if (!await ReadExactlyAsync(socket, length, timeout.Token))
            return null;
        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
        return await ReadExactlyAsync(socket, message, timeout.Token) ? message : null;
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        try
        {
            while (read < buffer.Length)
            {
                var count = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
                if (count == 0)
                    return false;
                read += count;
            }
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync() => await Host.StopAsync();
}
