using System.Buffers.Binary;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>A secondary's side of a transfer, by hand: length-prefixed messages over TCP until the closing SOA.</summary>
internal static class TransferClient
{
    public static async Task<Socket> ConnectAsync(DnsHost host)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host.EndPoints[0]);
        return socket;
    }

    public static async Task SendAsync(Socket socket, byte[] wire)
    {
        var framed = new byte[2 + wire.Length];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)wire.Length);
        wire.CopyTo(framed, 2);
        await socket.SendAsync(framed);
    }

    /// <summary>Sends one query and reads messages until the transfer ends (second SOA), a lone SOA or an error code.</summary>
    public static async Task<List<DnsMessage>> TransferAsync(Socket socket, DnsMessage query)
    {
        await SendAsync(socket, ZoneTransferTests.Wire(query));
        var messages = new List<DnsMessage>();
        var soas = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var message = DnsMessage.Parse(await ReadFramedAsync(socket, timeout.Token) ?? throw new IOException("the server closed the connection"));
            messages.Add(message);
            soas += message.AnswerRecords.Count(r => r.RecordType == RecordType.Soa);
            if (message.ReturnCode != ReturnCode.NoError || soas >= 2 || query.Questions[0].RecordType != RecordType.Axfr && soas == 1 && message.AnswerRecords.Count == 1)
                return messages;
        }
    }

    /// <summary>One length-prefixed message; null when the server closed the connection.</summary>
    public static async Task<byte[]?> ReadFramedAsync(Socket socket, CancellationToken ct)
    {
        var prefix = new byte[2];
        if (!await ReadExactlyAsync(socket, prefix, ct))
            return null;
        var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        return await ReadExactlyAsync(socket, body, ct) ? body : null;
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var count = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
            if (count == 0)
                return false;
            read += count;
        }
        return true;
    }

    public static async Task<DnsMessage?> OverUdpAsync(DnsHost host, DnsMessage query)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(host.EndPoints[0]);
        await socket.SendAsync(ZoneTransferTests.Wire(query));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var buffer = new byte[1500];
        try
        {
            return DnsMessage.Parse(buffer[..await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)]);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
