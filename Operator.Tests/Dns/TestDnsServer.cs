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

/// <summary>Hand-built queries for the cases ARSoft's client cannot express (QR=1, QDCOUNT=2, opcode 15, EDNS version 1, ...).</summary>
internal static class RawQuery
{
    public sealed record Edns(ushort Size = 1232, byte Version = 0, bool DnssecOk = false, ushort ZFlags = 0, byte[]? Option = null);

    public static byte[] Build(string name, RecordType type = RecordType.A, ushort recordClass = 1, ushort id = 0x4d4c, int opcode = 0,
        bool response = false, int questions = 1, Edns? edns = null, bool recursionDesired = false)
    {
        var bytes = new List<byte>();
        void U16(int value) => bytes.AddRange([(byte)(value >> 8), (byte)value]);
        var flags = (response ? 0x8000 : 0) | (opcode << 11) | (recursionDesired ? 0x0100 : 0);
        U16(id);
        U16(flags);
        U16(questions);
        U16(0);
        U16(0);
        U16(edns is null ? 0 : 1);
        for (var i = 0; i < questions; i++)
        {
            foreach (var label in name.TrimEnd('.').Split('.'))
            {
                bytes.Add((byte)label.Length);
                bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
            }
            bytes.Add(0);
            U16((int)type);
            U16(recordClass);
        }
        if (edns is not null)
        {
            bytes.Add(0); // root owner
            U16(41);
            U16(edns.Size);
            bytes.Add(0); // extended RCODE
            bytes.Add(edns.Version);
            U16((edns.DnssecOk ? 0x8000 : 0) | edns.ZFlags);
            var option = edns.Option ?? [];
            U16(option.Length);
            bytes.AddRange(option);
        }
        return [.. bytes];
    }

    /// <summary>An EDNS option with an unassigned code and the given payload size.</summary>
    public static byte[] UnknownOption(int length) => [0xfd, 0xe9, (byte)(length >> 8), (byte)length, .. new byte[length]];

    /// <summary>The question section of a message (after the 12-byte header), byte for byte.</summary>
    public static byte[] QuestionSection(byte[] message)
    {
        var position = 12;
        while (message[position] != 0)
            position += message[position] + 1;
        return message[12..(position + 5)];
    }

    public static bool Flag(byte[] message, int mask) => (BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2)) & mask) != 0;

    public const int QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080;
}
