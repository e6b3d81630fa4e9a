using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using ARSoft.Tools.Net.Dns.DynamicUpdate;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Dns;

/// <summary>
/// Turns one query and one <see cref="Zone"/> into the authoritative answer. Pure: no I/O, no clock, no lock;
/// the only state is the <see cref="Random"/> that shuffles addresses.
/// </summary>
/// <param name="random">Shuffles answers; <see cref="Random.Shared"/> (thread-safe) when null, a seeded one in tests.</param>
public sealed class Responder(Random? random = null)
{
    /// <summary>Our EDNS UDP payload size: DNS Flag Day 2020's value, small enough to avoid IP fragmentation.</summary>
    public const ushort MaxUdpPayloadSize = 1232;

    /// <summary>The size every DNS client accepts; also the floor for smaller EDNS sizes (RFC 6891 §6.2.5).</summary>
    public const ushort MinUdpPayloadSize = 512;

    // At most this many records per answer, so the work per query stays bounded: 2,000 AAAA (28 bytes each) fit
    // the 65,535 bytes of a TCP message; what still does not fit (SRV with its addresses) is cut by AnswerSize.
    // Clients of a Service this large get a random part of it, a different one per query.
    public const int MaxAddressAnswers = 2000, MaxSrvAnswers = 1000;

    // SOA timers for a zone nobody transfers; MINIMUM is the TTL (RFC 2308 §5).
    internal const int Refresh = 7200, Retry = 1800, Expire = 86400;

    private readonly Random random = random ?? Random.Shared;

    /// <summary>Any parsed message: UPDATE (which ARSoft parses as <see cref="DnsUpdateMessage"/>) gets NOTIMP.</summary>
    public DnsMessageBase? Respond(DnsMessageBase query, Zone zone) => query switch
    {
        DnsMessage message => Respond(message, zone),
        DnsUpdateMessage update when update.IsQuery => NotImplemented(update),
        _ => null,
    };

    /// <summary>The response to send, or null to send nothing.</summary>
    public DnsMessage? Respond(DnsMessage query, Zone zone)
    {
        // A response sent to us (QR=1): answering it could start a loop between two servers.
        if (!query.IsQuery)
            return null;

        var response = query.CreateResponseInstance();
        response.IsRecursionAllowed = false;
        if (query.EDnsOptions is { } edns)
        {
            // A fresh OPT: our own size, version 0, DO copied (RFC 3225); options and Z flags not echoed (RFC 6891 §6.1.4).
            response.EDnsOptions = new OptRecord(Math.Clamp(edns.UdpPayloadSize, MinUdpPayloadSize, MaxUdpPayloadSize)) { IsDnsSecOk = edns.IsDnsSecOk };
            if (edns.Version != 0)
            {
                response.ReturnCode = ReturnCode.BadVersion; // RFC 6891 §6.1.3, with our OPT at version 0
                return response;
            }
        }

        // RFC 8906 §7: unknown opcodes get NOTIMP, not an authoritative answer.
        if (query.OperationCode != OperationCode.Query)
            return Fail(response, ReturnCode.NotImplemented);

        // RFC 9619: exactly one question.
        if (query.Questions.Count != 1)
            return Fail(response, ReturnCode.FormatError);

        var question = query.Questions[0];
        // No zone transfers, no other classes (as CoreDNS).
        if (question.RecordClass != RecordClass.INet || question.RecordType is RecordType.Axfr or RecordType.Ixfr)
            return Fail(response, ReturnCode.Refused);

        var lookup = zone.Find(question.Name);
        switch (lookup.Status)
        {
            case NameStatus.Outside:
                // Not ours: never recurse, never act as an open resolver.
                return Fail(response, ReturnCode.Refused);
            case NameStatus.NotFound:
                response.IsAuthoritiveAnswer = true;
                response.ReturnCode = ReturnCode.NxDomain;
                response.AuthorityRecords.Add(Soa(zone, lookup.SoaOwner)); // RFC 2308 §3
                return response;
        }

        response.IsAuthoritiveAnswer = true;
        Answer(response, question, lookup, zone);
        if (response.AnswerRecords.Count == 0)
            response.AuthorityRecords.Add(Soa(zone, lookup.SoaOwner)); // NODATA, RFC 2308 §2.2
        return response;
    }

    private void Answer(DnsMessage response, DnsQuestion question, ZoneLookup lookup, Zone zone)
    {
        var name = question.Name;
        var node = lookup.Node ?? ZoneNode.Empty;
        var ttl = zone.Settings.Ttl;
        var answers = response.AnswerRecords;
        switch (question.RecordType)
        {
            case RecordType.Soa when lookup.IsApex:
            case RecordType.Any when lookup.IsApex:
                answers.Add(Soa(zone, name)); // ANY: one RRset is enough (RFC 8482)
                break;
            case RecordType.Ns when lookup.IsApex:
                answers.Add(new NsRecord(name, ttl, zone.NameServer));
                if (zone.Names.TryGetValue(zone.NameServer, out var nameServer))
                    AddAddresses(response.AdditionalRecords, zone.NameServer, nameServer, ttl);
                break;
            case RecordType.A:
                answers.AddRange(Shuffled(node.V4, MaxAddressAnswers).Select(a => new ARecord(name, ttl, a)));
                break;
            case RecordType.Aaaa:
                answers.AddRange(Shuffled(node.V6, MaxAddressAnswers).Select(a => new AaaaRecord(name, ttl, a)));
                break;
            case RecordType.Srv:
                foreach (var target in Shuffled(node.Srv, MaxSrvAnswers))
                {
                    answers.Add(new SrvRecord(name, ttl, 0, 1, target.Port, target.Target));
                    if (zone.Names.TryGetValue(target.Target, out var targetNode))
                        AddAddresses(response.AdditionalRecords, target.Target, targetNode, ttl);
                }
                break;
            case RecordType.Ptr when !lookup.Pointers.IsDefaultOrEmpty:
                // Every served name of the address, in the zone's fixed order (a reverse lookup is not load-balanced).
                AddPointers(answers, name, lookup, ttl);
                break;
            case RecordType.Any:
                // RFC 8482: one RRset, or a synthesised HINFO when there is none; never NOTIMP.
                if (!lookup.Pointers.IsDefaultOrEmpty)
                    AddPointers(answers, name, lookup, ttl);
                else if (node.V4.Length > 0)
                    answers.AddRange(Shuffled(node.V4, MaxAddressAnswers).Select(a => new ARecord(name, ttl, a)));
                else if (node.V6.Length > 0)
                    answers.AddRange(Shuffled(node.V6, MaxAddressAnswers).Select(a => new AaaaRecord(name, ttl, a)));
                else if (node.Srv.Length > 0)
                    answers.AddRange(node.Srv.Select(t => new SrvRecord(name, ttl, 0, 1, t.Port, t.Target)));
                else
                    answers.Add(new HInfoRecord(name, ttl, "RFC8482", ""));
                break;
        }
    }

    private static void AddPointers(List<DnsRecordBase> answers, DomainName name, ZoneLookup lookup, int ttl) =>
        answers.AddRange(lookup.Pointers.Select(target => (DnsRecordBase)new PtrRecord(name, ttl, target)));

    private static void AddAddresses(List<DnsRecordBase> section, DomainName name, ZoneNode node, int ttl)
    {
        section.AddRange(node.V4.Select(a => (DnsRecordBase)new ARecord(name, ttl, a)));
        section.AddRange(node.V6.Select(a => (DnsRecordBase)new AaaaRecord(name, ttl, a)));
    }

    /// <summary>A random order, cut to <paramref name="limit"/> so the answer fits a TCP message (64 KiB).</summary>
    private T[] Shuffled<T>(IEnumerable<T> items, int limit)
    {
        var array = items.ToArray();
        random.Shuffle(array);
        return array.Length > limit ? array[..limit] : array;
    }

    private static SoaRecord Soa(Zone zone, DomainName owner) =>
        new(owner, zone.Settings.Ttl, zone.NameServer, zone.Hostmaster, zone.Serial, Refresh, Retry, Expire, zone.Settings.Ttl);

    private static DnsMessage Fail(DnsMessage response, ReturnCode code)
    {
        response.IsAuthoritiveAnswer = false;
        response.ReturnCode = code;
        return response;
    }

    private static DnsUpdateMessage NotImplemented(DnsUpdateMessage update)
    {
        var response = update.CreateResponseInstance();
        response.ReturnCode = ReturnCode.NotImplemented;
        return response;
    }
}
