using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MiniLb.Operator.Forwarding;

/// <summary>What became of a query minilb forwarded (or would have).</summary>
public enum ForwardResult
{
    /// <summary>An upstream answered; the answer was relayed.</summary>
    Answered,

    /// <summary>Every upstream timed out, was unreachable or refused: SERVFAIL.</summary>
    Failed,

    /// <summary>Too many queries were waiting for upstreams already: SERVFAIL at once.</summary>
    Overloaded,

    /// <summary>The client is not in the allow-list (or is an upstream itself): REFUSED, as without forwarding.</summary>
    NotAllowed,
}

/// <summary>An upstream's answer in a pooled buffer (<see cref="Dispose"/> gives it back), or why there is none.</summary>
public readonly record struct UpstreamReply(ForwardResult Result, byte[]? Buffer, int Length) : IDisposable
{
    public ReadOnlySpan<byte> Message => Buffer.AsSpan(0, Length);

    public void Dispose()
    {
        if (Buffer is not null)
            ArrayPool<byte>.Shared.Return(Buffer);
    }
}

/// <summary>
/// The small upstream client behind forwarding: sends one query to the upstreams in order over the client's
/// transport and returns the first usable answer. Over UDP an answer with TC=1 is asked again over TCP. Each
/// upstream gets <see cref="ForwardingSettings.Timeout"/>; one that is unreachable (ICMP port unreachable, a
/// refused connection) is passed over at once. REFUSED or SERVFAIL from one upstream means the next is tried; if
/// none does better, that answer is relayed. Every exchange uses its own socket (a random source port) and a random
/// ID, and only an answer with that ID and the same question counts, so a spoofed datagram is not relayed.
/// At most <see cref="ForwardingSettings.MaxInFlight"/> exchanges run at once. Thread-safe.
/// </summary>
public sealed class Forwarder(ForwardingSettings settings, TimeProvider? time = null)
{
    private const int HeaderLength = 12, LengthPrefix = 2;
    private const byte Truncated = 0x02;
    private const int ServFail = 2, Refused = 5;

    private readonly TimeProvider time = time ?? TimeProvider.System;
    private int inFlight;

    public ForwardingSettings Settings => settings;

    /// <summary>Exchanges waiting for an upstream right now.</summary>
    public int InFlight => Volatile.Read(ref inFlight);

    /// <summary>
    /// Forwards <paramref name="query"/> (a query minilb would refuse, as the client sent it) and returns the
    /// answer of an upstream as received; the caller relays it with the client's ID and question.
    /// </summary>
    public async Task<UpstreamReply> ExchangeAsync(ReadOnlyMemory<byte> query, bool tcp, CancellationToken ct)
    {
        if (Interlocked.Increment(ref inFlight) > settings.MaxInFlight)
        {
            Interlocked.Decrement(ref inFlight);
            return new UpstreamReply(ForwardResult.Overloaded, null, 0);
        }
        var buffer = ArrayPool<byte>.Shared.Rent(ushort.MaxValue); // any answer; 64 KiB, below the large object heap
        try
        {
            var message = query.ToArray();
            MessageIds.Fill(message.AsSpan(0, 2)); // our own ID: a client's ID may be guessable
            var questionEnd = QuestionEnd(message);
            if (questionEnd == 0)
                return NoAnswer;
            byte[]? fallback = null;
            foreach (var upstream in settings.Upstreams)
            {
                var length = tcp
                    ? await OverTcpAsync(upstream, message, questionEnd, buffer, ct)
                    : await OverUdpAsync(upstream, message, questionEnd, buffer, ct);
                if (length > 0 && !tcp && (buffer[2] & Truncated) != 0)
                {
                    // Too large for UDP at the upstream: ask again over TCP; keep the truncated answer if that fails.
                    var truncated = buffer.AsSpan(0, length).ToArray();
                    var whole = await OverTcpAsync(upstream, message, questionEnd, buffer, ct);
                    if (whole > 0)
                        length = whole;
                    else
                        truncated.CopyTo(buffer, 0);
                }
                if (length == 0)
                    continue;
                if ((buffer[3] & 0x0F) is ServFail or Refused)
                {
                    fallback ??= buffer.AsSpan(0, length).ToArray();
                    continue;
                }
                return Answer(ref buffer, length);
            }
            if (fallback is not null)
            {
                fallback.CopyTo(buffer, 0);
                return Answer(ref buffer, fallback.Length);
            }
            return NoAnswer;
        }
        finally
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Decrement(ref inFlight);
        }
    }

    /// <summary>Hands the buffer over to the reply (the finally block then leaves it alone).</summary>
    private static UpstreamReply Answer(ref byte[] buffer, int length)
    {
        var reply = new UpstreamReply(ForwardResult.Answered, buffer, length);
        buffer = null!;
        return reply;
    }

    private static UpstreamReply NoAnswer => new(ForwardResult.Failed, null, 0);

    private async Task<int> OverUdpAsync(IPEndPoint upstream, byte[] message, int questionEnd, byte[] buffer, CancellationToken ct)
    {
        using var deadline = Start(ct);
        try
        {
            using var socket = new Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            // Connected: the kernel delivers datagrams from the upstream's address and port only, and reports ICMP errors.
            socket.Connect(upstream);
            await socket.SendAsync(message, SocketFlags.None, deadline.Token);
            while (true)
            {
                var length = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                if (Matches(buffer.AsSpan(0, length), message, questionEnd))
                    return length;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return 0; // timed out, unreachable or stopping: the next upstream
        }
    }

    private async Task<int> OverTcpAsync(IPEndPoint upstream, byte[] message, int questionEnd, byte[] buffer, CancellationToken ct)
    {
        using var deadline = Start(ct);
        try
        {
            using var socket = new Socket(upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(upstream, deadline.Token);
            var framed = new byte[LengthPrefix + message.Length];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
            message.CopyTo(framed, LengthPrefix);
            await socket.SendAsync(framed, SocketFlags.None, deadline.Token);
            await ReceiveExactlyAsync(socket, buffer.AsMemory(0, LengthPrefix), deadline.Token);
            var length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
            await ReceiveExactlyAsync(socket, buffer.AsMemory(0, length), deadline.Token);
            return Matches(buffer.AsSpan(0, length), message, questionEnd) ? length : 0;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
        {
            return 0;
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> into, CancellationToken ct)
    {
        for (var received = 0; received < into.Length;)
        {
            var read = await socket.ReceiveAsync(into[received..], SocketFlags.None, ct);
            if (read == 0)
                throw new EndOfStreamException();
            received += read;
        }
    }

    /// <summary>One upstream's time, ended early when the transport stops.</summary>
    private Deadline Start(CancellationToken ct)
    {
        var timer = new CancellationTokenSource(settings.Timeout, time);
        return new Deadline(timer, ct.Register(timer.Cancel));
    }

    private readonly record struct Deadline(CancellationTokenSource Timer, CancellationTokenRegistration OnStop) : IDisposable
    {
        public CancellationToken Token => Timer.Token;

        public void Dispose()
        {
            OnStop.Dispose();
            Timer.Dispose();
        }
    }

    /// <summary>
    /// An answer to <paramref name="query"/>: QR=1, its ID, one question equal to the query's but for case
    /// (RFC 4343; a resolver may not keep 0x20 case), in the same place.
    /// </summary>
    internal static bool Matches(ReadOnlySpan<byte> answer, ReadOnlySpan<byte> query, int questionEnd)
    {
        if (answer.Length < questionEnd || (answer[2] & 0x80) == 0 || answer[0] != query[0] || answer[1] != query[1]
            || BinaryPrimitives.ReadUInt16BigEndian(answer[4..]) != 1)
            return false;
        for (var i = HeaderLength; i < questionEnd; i++)
        {
            if (answer[i] != query[i] && (answer[i] | 0x20) != (query[i] | 0x20))
                return false;
            if ((answer[i] | 0x20) is < (byte)'a' or > (byte)'z' && answer[i] != query[i])
                return false; // only letters differ by case; label lengths and other bytes must be equal
        }
        return true;
    }

    /// <summary>Where the first question ends; 0 when there is none or its name is compressed (nothing before it to point to).</summary>
    internal static int QuestionEnd(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(message[4..]) == 0)
            return 0;
        var position = HeaderLength;
        while (position < message.Length)
        {
            var label = message[position];
            if (label == 0)
                return position + 5 <= message.Length ? position + 5 : 0;
            if (label > 63)
                return 0;
            position += label + 1;
        }
        return 0;
    }
}
