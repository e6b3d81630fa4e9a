using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Dns;

/// <summary>
/// Everything between receiving a DNS message and sending its answer, the same for every transport:
/// admit (framing, QR=0, rate limit over UDP) → fast path (<see cref="PreparedAnswers"/>) → parse and
/// <see cref="Responder"/> on the current <see cref="Zone"/> → learn the answer for the fast path → size it to
/// the transport → metrics. Synchronous and without I/O: a transport hands over a message and an output buffer
/// and sends what comes back. Thread-safe.
/// With forwarding on, a query it would refuse (a name outside the zone and aliases) from an allowed client comes
/// back as <see cref="Forward"/>: the transport asks the <see cref="Forwarder"/> (the I/O) and hands the upstream's
/// answer to <see cref="Relay"/>, which sizes it like any answer.
/// </summary>
internal sealed class QueryPipeline
{
    /// <summary>The largest DNS message over TCP (a 16-bit length prefix, RFC 1035 §4.2.2).</summary>
    public const int MaxTcpMessage = ushort.MaxValue;

    /// <summary>Output buffers must hold this many bytes: any message the responder may write.</summary>
    public const int OutputSize = ushort.MaxValue;

    /// <summary>What <see cref="Answer"/> returns for a query the transport should forward (only with a <see cref="Forwarder"/>).</summary>
    public const int Forward = -1;

    private static readonly IPEndPoint AnyV4 = new(IPAddress.Any, 0), AnyV6 = new(IPAddress.IPv6Any, 0);

    private readonly ZoneHolder zones;
    private readonly Responder responder;
    private readonly PreparedAnswers? answers;
    private readonly Action<RecordType, ReturnCode, TransportProtocol, TimeSpan>? answered;
    private readonly Action<ForwardResult>? forwarded;
    private volatile Forwarder? forwarder;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    public QueryPipeline(ZoneHolder zones, Responder responder, DnsHostOptions options, ILogger logger)
    {
        this.zones = zones;
        this.responder = responder;
        this.logger = logger;
        answers = options.FastPath ? new PreparedAnswers(zones.Current) : null;
        RateLimiter = options.RateLimit is { } limit ? new ResponseRateLimiter(limit, options.Time) : null;
        (answered, forwarded, time) = (options.Answered, options.Forwarded, options.Time);
        forwarder = options.Forwarding is { } forwarding ? new Forwarder(forwarding, time) : null;
    }

    /// <summary>Where queries for outside names from allowed clients go; null (the default): they are refused.</summary>
    public Forwarder? Forwarder
    {
        get => forwarder;
        set => forwarder = value;
    }

    /// <summary>The response-rate limiter (UDP only), when one is configured.</summary>
    public ResponseRateLimiter? RateLimiter { get; }

    /// <summary>Zone transfers: TCP connections hand AXFR/IXFR to it; IXFR over UDP is answered here.</summary>
    public Transfer.ZoneTransfers? Transfers { get; init; }

    /// <summary>Answers the fast path holds for the current zone (0 without it).</summary>
    public int PreparedAnswerCount => answers?.Count ?? 0;

    /// <summary>
    /// Answers <paramref name="message"/>, received over <paramref name="transport"/> from <paramref name="sender"/>
    /// (needed for rate limiting only), into <paramref name="output"/> (at least <see cref="OutputSize"/> bytes).
    /// Returns the length of the answer to send; 0 to send nothing; <see cref="Forward"/> to forward the query
    /// (<paramref name="sender"/> is then in the allow-list).
    /// </summary>
    public int Answer(ReadOnlySpan<byte> message, Span<byte> output, TransportProtocol transport, SocketAddress? sender = null)
    {
        var started = answered is null ? 0 : time.GetTimestamp();

        // Admit: garbage and responses get nothing (answering a response could start a loop between two servers).
        var layout = WireMessage.Read(message);
        if (!layout.IsQuery)
            return 0;
        var limit = transport == TransportProtocol.Udp ? layout.UdpLimit : MaxTcpMessage;
        if (transport == TransportProtocol.Udp && RateLimiter is not null && sender is not null)
        {
            switch (RateLimiter.Check(Address(sender)))
            {
                case RateLimitVerdict.Drop:
                    return 0;
                case RateLimitVerdict.Slip:
                    return layout.WriteEmptyResponse(message, output, ReturnCode.NoError, truncated: true);
            }
        }

        // IXFR over UDP from a secondary allowed to transfer: our SOA alone (RFC 1995 §2); anything else goes on (REFUSED).
        if (transport == TransportProtocol.Udp && Transfers is { Enabled: true } && sender is not null
            && Transfers.AnswerOverUdp(message, layout, Address(sender), output) is > 0 and var soaOnly)
            return soaOnly;

        // Fast path: a replayed answer, no parsing, no allocation.
        var zone = zones.Current;
        Span<byte> key = stackalloc byte[PreparedAnswers.MaxKeyLength];
        var outcome = PreparedAnswers.Outcome.SlowPathOnly;
        var keyLength = 0;
        if (answers is not null)
        {
            outcome = answers.TryAnswer(message, layout, zone, output, limit, key, out var replayed, out keyLength);
            if (outcome == PreparedAnswers.Outcome.Answered)
            {
                if (forwarder is not null && Forwards(message, layout, output[..replayed], sender))
                    return Forward;
                Report(layout.QuestionType, (ReturnCode)(output[3] & 0x0F), transport, started);
                return replayed;
            }
        }

        // Slow path: parse, respond, size; then teach the fast path what it answered, unless sizing cut it.
        var (length, rcode, whole) = Respond(message, layout, zone, output, limit, transport);
        // With forwarding, minilb is the LAN's DNS server and sees every name its clients look up: keeping a refusal
        // per outside name would fill the fast path's table with names it never answers.
        if (outcome == PreparedAnswers.Outcome.Learnable && whole && !(forwarder is not null && rcode == ReturnCode.Refused))
            answers!.Learn(key[..keyLength], zone, output[..length]);
        if (forwarder is not null && length > 0 && Forwards(message, layout, output[..length], sender))
            return Forward;
        if (length > 0)
            Report(layout.QuestionType, rcode, transport, started);
        return length;
    }

    /// <summary>
    /// Whether <paramref name="answer"/> is the refusal of a name outside the zone and aliases — a standard query
    /// (opcode QUERY, one question, class IN, no zone transfer), our own names never among them — from a client
    /// that may have it forwarded. Refusals of anything else stand.
    /// </summary>
    private bool Forwards(ReadOnlySpan<byte> message, in WireMessage layout, ReadOnlySpan<byte> answer, SocketAddress? sender)
    {
        if (answer.Length < WireMessage.HeaderLength || (ReturnCode)(answer[3] & 0x0F) != ReturnCode.Refused
            || (layout.Flags & 0x7800) != 0 || layout.Questions != 1 || layout.QuestionEnd == 0
            || BinaryPrimitives.ReadUInt16BigEndian(message[(layout.QuestionEnd - 2)..]) != (ushort)RecordClass.INet
            || layout.QuestionType is RecordType.Axfr or RecordType.Ixfr)
            return false;
        if (sender is not null && forwarder is { } current && current.Settings.Allows(Address(sender)))
            return true;
        forwarded?.Invoke(ForwardResult.NotAllowed);
        return false;
    }

    /// <summary>
    /// The answer to a forwarded <paramref name="query"/> from <paramref name="reply"/>: the upstream's answer with
    /// the client's ID and question, RA=1 and AA=0, within the transport's size (else TC=1); SERVFAIL (RA=1) when
    /// no upstream answered. Returns the length written to <paramref name="output"/>.
    /// </summary>
    public int Relay(ReadOnlySpan<byte> query, in UpstreamReply reply, Span<byte> output, TransportProtocol transport)
    {
        var started = answered is null ? 0 : time.GetTimestamp();
        var layout = WireMessage.Read(query);
        if (!layout.IsQuery || layout.QuestionEnd == 0)
            return 0;
        var limit = transport == TransportProtocol.Udp ? layout.UdpLimit : MaxTcpMessage;
        var result = reply.Result == ForwardResult.Answered && reply.Length < layout.QuestionEnd ? ForwardResult.Failed : reply.Result;
        forwarded?.Invoke(result);
        var length = result == ForwardResult.Answered
            ? AnswerSize.Relay(query, layout, reply.Message, output, limit)
            : layout.WriteEmptyResponse(query, output, ReturnCode.ServerFailure, truncated: false);
        output[3] |= 0x80; // RA: recursion is available to this client
        Report(layout.QuestionType, (ReturnCode)(output[3] & 0x0F), transport, started);
        return length;
    }

    private (int Length, ReturnCode Rcode, bool Whole) Respond(ReadOnlySpan<byte> message, in WireMessage layout, Zone zone, Span<byte> output, int limit, TransportProtocol transport)
    {
        DnsMessageBase query;
        try
        {
            query = ParseQuery(null, message.ToArray(), null, null);
        }
        catch (Exception e)
        {
            // Framing that holds together around contents ARSoft cannot read (a 1-byte A record, say): RFC 1035 §4.1.1.
            logger.LogDebug(e, "Unreadable DNS query ({Length} bytes) over {Transport}: FORMERR", message.Length, transport);
            return (layout.WriteEmptyResponse(message, output, ReturnCode.FormatError, truncated: false), ReturnCode.FormatError, false);
        }

        try
        {
            if (responder.Respond(query, zone) is not { } response)
                return (0, ReturnCode.NoError, false);
            var (size, whole) = AnswerSize.Fit(response, output, limit, transport);
            return (size, response.ReturnCode, whole);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Answering a {Type} query for {Name} failed: SERVFAIL", layout.QuestionType, (query as DnsMessage)?.Questions.FirstOrDefault()?.Name);
            return (layout.WriteEmptyResponse(message, output, ReturnCode.ServerFailure, truncated: false), ReturnCode.ServerFailure, false);
        }
    }

    private void Report(RecordType type, ReturnCode rcode, TransportProtocol transport, long started)
    {
        if (answered is not null)
            answered(type, rcode, transport, time.GetElapsedTime(started));
    }

    private static IPAddress Address(SocketAddress sender) =>
        ((IPEndPoint)(sender.Family == AddressFamily.InterNetwork ? AnyV4 : AnyV6).Create(sender)).Address;

    /// <summary>
    /// ARSoft's own parser, which picks <c>DnsUpdateMessage</c> for opcode UPDATE (answered NOTIMP) and
    /// <see cref="DnsMessage"/> otherwise; internal in ARSoft 3.6.1, whose public entry point is its server loop.
    /// </summary>
    [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "CreateByFlag")]
    private static extern DnsMessageBase ParseQuery(DnsMessageBase? type, IList<byte> package, DnsServer.SelectTsigKey? tsigKeySelector, byte[]? originalMac);
}
