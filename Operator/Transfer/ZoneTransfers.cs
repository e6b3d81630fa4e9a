using System.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Transfer;

/// <summary>
/// The transport side of zone transfers on one DNS host: decides whether a query is a transfer this server makes
/// (AXFR or IXFR from an allowed client), limits how many run at once, and produces the messages from one
/// <see cref="Zone"/> version, taken once. Everything it does not make (a client outside the allow-list, AXFR over
/// UDP, transfers off) goes on to the responder, which answers REFUSED.
/// </summary>
public sealed class ZoneTransfers
{
    /// <summary>Transfers at once per host: a router's secondary needs one; a client opening many gets SERVFAIL.</summary>
    public const int MaxConcurrent = 4;

    private readonly ZoneHolder zones;
    private readonly ILogger logger;
    private readonly SemaphoreSlim slots = new(MaxConcurrent, MaxConcurrent);
    private TransferSettings settings;

    public ZoneTransfers(ZoneHolder zones, TransferSettings settings, ILogger logger)
    {
        this.zones = zones;
        this.settings = settings;
        this.logger = logger;
    }

    public TransferSettings Settings => Volatile.Read(ref settings);

    /// <summary>Raised after <see cref="Apply"/> changed the settings (the notifier sends to new secondaries).</summary>
    public event Action? Changed;

    /// <summary>Transfers a client may be allowed: a cheap test before anything else is looked at.</summary>
    public bool Enabled => Settings.Enabled;

    /// <summary>Transfers in progress right now.</summary>
    public int Running => MaxConcurrent - slots.CurrentCount;

    /// <summary>New settings, live: transfers already running finish on the version they started with.</summary>
    public void Apply(TransferSettings next)
    {
        var previous = Interlocked.Exchange(ref settings, next);
        if (previous.SameAs(next))
            return;
        logger.LogInformation("Zone transfer settings: {Transfer}", next.Describe());
        Changed?.Invoke();
    }

    /// <summary>The question type asks for a transfer (AXFR or IXFR).</summary>
    internal static bool IsTransfer(ReadOnlySpan<byte> query) =>
        WireMessage.Read(query) is { IsQuery: true, Questions: 1, QuestionType: RecordType.Axfr or RecordType.Ixfr };

    /// <summary>
    /// The messages answering <paramref name="query"/> from <paramref name="client"/> over TCP, or null when this
    /// is no transfer we make (the responder answers it: REFUSED). Dispose the result once the messages are
    /// written: it holds one of the <see cref="MaxConcurrent"/> slots.
    /// </summary>
    public TransferReply? BeginOverTcp(ReadOnlySpan<byte> query, IPAddress client)
    {
        var current = Settings;
        if (!current.Enabled || !IsTransfer(query) || !current.Allows(client))
            return null;
        var message = Parse(query);
        if (message is null)
            return null;
        var zone = zones.Current; // one version for the whole transfer
        var type = message.Questions[0].RecordType;
        if (!ZoneTransfer.Holds(zone, message.Questions[0].Name) || message.Questions[0].RecordClass != RecordClass.INet)
            return null; // not one of our zones: REFUSED like any other name outside it
        if (type == RecordType.Ixfr && ZoneTransfer.IsCurrent(message, zone))
            return new TransferReply([ZoneTransfer.SoaOnly(message, zone)], null);
        if (!slots.Wait(0))
        {
            logger.LogWarning("Zone transfer to {Client} refused with SERVFAIL: {Running} transfers already running", client, MaxConcurrent);
            return new TransferReply([Failure(message, ReturnCode.ServerFailure)], null);
        }
        var messages = ZoneTransfer.Messages(message, zone);
        if (messages is null)
        {
            slots.Release();
            logger.LogError("Zone transfer of {Zone} to {Client} refused with SERVFAIL: more than {Max} records", message.Questions[0].Name, client, ZoneTransfer.MaxRecords);
            return new TransferReply([Failure(message, ReturnCode.ServerFailure)], null);
        }
        logger.LogInformation("Zone transfer ({Type}) of {Zone} serial {Serial} to {Client}: {Messages} message(s)", type, message.Questions[0].Name, zone.Serial, client, messages.Count);
        return new TransferReply(messages, slots);
    }

    /// <summary>
    /// The answer to an IXFR over UDP from an allowed client: our SOA alone, whether the client is current or
    /// behind (RFC 1995 §2: it then retries over TCP). 0 when this is no such query (the responder answers it).
    /// </summary>
    internal int AnswerOverUdp(ReadOnlySpan<byte> query, in WireMessage layout, IPAddress client, Span<byte> output)
    {
        if (layout.QuestionType != RecordType.Ixfr || layout.Questions != 1 || !Settings.Allows(client))
            return 0;
        var zone = zones.Current;
        if (Parse(query) is not { } message || !ZoneTransfer.Holds(zone, message.Questions[0].Name))
            return 0;
        var reply = ZoneTransfer.SoaOnly(message, zone);
        if (reply.Length > layout.UdpLimit)
            return 0;
        reply.CopyTo(output);
        return reply.Length;
    }

    private static DnsMessage? Parse(ReadOnlySpan<byte> query)
    {
        try
        {
            return DnsMessage.Parse(query.ToArray()) is { IsQuery: true, OperationCode: OperationCode.Query, Questions.Count: 1 } message ? message : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null; // unreadable: the pipeline answers FORMERR
        }
    }

    private static byte[] Failure(DnsMessage query, ReturnCode code)
    {
        var response = query.CreateResponseInstance();
        response.ReturnCode = code;
        return ZoneTransfer.Encode(response);
    }
}

/// <summary>The messages of one transfer, in order; disposing frees the transfer's slot.</summary>
public sealed class TransferReply(IReadOnlyList<byte[]> messages, SemaphoreSlim? slot) : IDisposable
{
    private SemaphoreSlim? slot = slot;

    public IReadOnlyList<byte[]> Messages => messages;

    public void Dispose() => Interlocked.Exchange(ref slot, null)?.Release();
}
