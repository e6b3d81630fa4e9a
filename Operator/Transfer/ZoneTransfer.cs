using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Transfer;

/// <summary>
/// A zone transfer as DNS messages, from one immutable <see cref="Zone"/> version: pure, no I/O. AXFR (RFC 5936)
/// sends SOA, the apex NS, every record of the zone asked for — the forward zone or one reverse zone — and the SOA
/// again; IXFR (RFC 1995) is answered with the same full zone (allowed by RFC 1995 §4), or with the SOA alone when
/// the client is already current. All zones of one version share its serial, as the responder's SOAs do.
/// </summary>
public static class ZoneTransfer
{
    /// <summary>
    /// Bytes of records per message, counted without name compression: with compression a message only gets
    /// smaller, so with header, question (at most 264 bytes) and OPT a message stays below 16,384 bytes. That,
    /// not TCP's 65,535, is the limit: a compression pointer holds a 14-bit offset (RFC 1035 §4.1.4), and ARSoft
    /// writes pointers to names past it, which dig rejects ("bad compression pointer").
    /// </summary>
    public const int RecordBytesPerMessage = 16_000;

    /// <summary>The largest offset a compression pointer can reach, so the largest transfer message we write.</summary>
    public const int MaxMessageBytes = 0x3FFF;

    /// <summary>
    /// The largest zone transferred, in records (about 2.5 MB on the wire): far beyond a home cluster, small enough
    /// that a transfer's work and memory stay bounded. A larger zone is not transferred (SERVFAIL), never cut.
    /// </summary>
    public const int MaxRecords = 100_000;

    /// <summary>The zones a transfer can be asked for: the forward apex and every reverse apex.</summary>
    public static bool Holds(Zone zone, DomainName apex) => apex.Equals(zone.Apex) || zone.Reverse.Apexes.ContainsKey(apex);

    /// <summary>Every record of the zone at <paramref name="apex"/> (the forward or a reverse apex) in transfer order.</summary>
    public static List<DnsRecordBase> Records(Zone zone, DomainName apex)
    {
        if (apex.Equals(zone.Apex))
            return Records(zone);
        if (!zone.Reverse.Apexes.ContainsKey(apex))
            throw new ArgumentException($"{apex} is no zone of this version", nameof(apex));
        var ttl = zone.Settings.Ttl;
        var records = new List<DnsRecordBase> { Soa(zone, apex), new NsRecord(apex, ttl, zone.NameServer) };
        foreach (var (owner, targets) in Pointers(zone.Reverse, apex))
        {
            foreach (var target in targets)
                records.Add(new PtrRecord(owner, ttl, target));
        }
        records.Add(Soa(zone, apex));
        return records;
    }

    /// <summary>
    /// The PTR owners of the reverse zone at <paramref name="apex"/>, sorted: those whose closest apex it is (a PTR
    /// under nested apexes belongs to the deepest, as <see cref="ReverseZones.Find"/> answers it).
    /// </summary>
    public static List<(DomainName Owner, ImmutableArray<DomainName> Targets)> Pointers(ReverseZones reverse, DomainName apex)
    {
        var pointers = new List<(string Key, DomainName Owner, ImmutableArray<DomainName> Targets)>();
        foreach (var (owner, targets) in reverse.Pointers)
        {
            if (owner.IsSubDomainOf(apex) && reverse.Find(owner) is { } lookup && lookup.SoaOwner.Equals(apex))
                pointers.Add((owner.ToString(false), owner, targets));
        }
        // Sorted (the same bytes for one version) by a text made once per owner, not twice per comparison.
        pointers.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return [.. pointers.Select(p => (p.Owner, p.Targets))];
    }

    /// <summary>Every record of the forward zone in transfer order: SOA, apex NS, the names (sorted), SOA.</summary>
    /// <remarks>
    /// Left out: aliases outside the zone (Ingress and route hosts such as shop.example.com belong to no zone the
    /// secondary holds) and empty non-terminals (implied by the names below them). Wildcards inside the zone are
    /// sent as DNS wildcards, so the secondary answers deeper names too (RFC 4592), where minilb's Ingress
    /// wildcards match one label only.
    /// </remarks>
    public static List<DnsRecordBase> Records(Zone zone)
    {
        var ttl = zone.Settings.Ttl;
        var records = new List<DnsRecordBase> { Soa(zone), new NsRecord(zone.Apex, ttl, zone.NameServer) };
        var owners = new List<(DomainName Name, ZoneNode Node)>();
        foreach (var (name, node) in zone.Names)
            owners.Add((name, node));
        foreach (var (name, node) in zone.Aliases)
        {
            if (name.IsEqualOrSubDomainOf(zone.Apex) && !name.Equals(zone.Apex) && !zone.Names.ContainsKey(name))
                owners.Add((name, node));
        }
        foreach (var wildcards in (IEnumerable<KeyValuePair<DomainName, ZoneNode>>[])[zone.OneLabelWildcards, zone.MultiLabelWildcards])
        {
            foreach (var (suffix, node) in wildcards)
            {
                if (suffix.IsEqualOrSubDomainOf(zone.Apex))
                    owners.Add((new DomainName(["*", .. suffix.Labels]), node));
            }
        }
        // Sorted, so two transfers of one version are the same bytes (and a name's records come together).
        owners.Sort((a, b) => string.CompareOrdinal(a.Name.ToString(false), b.Name.ToString(false)));
        DomainName? previous = null;
        foreach (var (name, node) in owners)
        {
            if (name.Equals(previous))
                continue; // a one-label and a multi-label wildcard on one suffix: the closer match (one label) was first in the answers too
            previous = name;
            foreach (var address in node.V4)
                records.Add(new ARecord(name, ttl, address));
            foreach (var address in node.V6)
                records.Add(new AaaaRecord(name, ttl, address));
            foreach (var target in node.Srv)
                records.Add(new SrvRecord(name, ttl, 0, 1, target.Port, target.Target));
        }
        records.Add(Soa(zone));
        return records;
    }

    /// <summary>The zone's SOA, as the responder gives it (same TTL, timers and serial).</summary>
    public static SoaRecord Soa(Zone zone) => Soa(zone, zone.Apex);

    /// <summary>The SOA at <paramref name="apex"/> (the forward or a reverse apex), as the responder gives it there.</summary>
    public static SoaRecord Soa(Zone zone, DomainName apex) =>
        new(apex, zone.Settings.Ttl, zone.NameServer, zone.Hostmaster, zone.Serial, Responder.Refresh, Responder.Retry, Responder.Expire, zone.Settings.Ttl);

    /// <summary>
    /// True when an IXFR client already holds <paramref name="zone"/>'s version or a newer one: its SOA (in the
    /// query's authority section, RFC 1995 §3) has a serial not behind ours in serial arithmetic (RFC 1982).
    /// </summary>
    public static bool IsCurrent(DnsMessage ixfr, Zone zone) =>
        ixfr.AuthorityRecords.OfType<SoaRecord>().FirstOrDefault() is { } soa && (int)(soa.SerialNumber - zone.Serial) >= 0;

    /// <summary>
    /// The messages of a transfer answering <paramref name="query"/> (AXFR, or IXFR from a client that is behind) for
    /// the zone its question names (see <see cref="Holds"/>),
    /// each below 16 KiB (compression pointers reach no further), each encoded with name compression. Null when the zone has more than
    /// <see cref="MaxRecords"/> records.
    /// </summary>
    public static List<byte[]>? Messages(DnsMessage query, Zone zone)
    {
        var records = Records(zone, query.Questions[0].Name);
        if (records.Count > MaxRecords)
            return null;
        var messages = new List<byte[]>();
        var response = Response(query, first: true);
        var bytes = 0;
        foreach (var record in records)
        {
            var size = UncompressedSize(record);
            if (bytes + size > RecordBytesPerMessage && response.AnswerRecords.Count > 0)
            {
                messages.Add(Encode(response));
                response = Response(query, first: false);
                bytes = 0;
            }
            response.AnswerRecords.Add(record);
            bytes += size;
        }
        messages.Add(Encode(response));
        return messages;
    }

    /// <summary>The answer to an IXFR from a client that is current, or to any IXFR over UDP: our SOA alone (RFC 1995 §2).</summary>
    public static byte[] SoaOnly(DnsMessage query, Zone zone)
    {
        var response = Response(query, first: true);
        response.AnswerRecords.Add(Soa(zone, query.Questions[0].Name));
        return Encode(response);
    }

    /// <summary>
    /// An authoritative NOERROR response; the question goes in the first message only (RFC 5936 §2.2.1 allows
    /// leaving it out of the others). EDNS is answered in every message, version 0, our size (RFC 6891).
    /// </summary>
    private static DnsMessage Response(DnsMessage query, bool first)
    {
        var response = query.CreateResponseInstance();
        response.IsAuthoritiveAnswer = true;
        response.IsRecursionAllowed = false;
        response.ReturnCode = ReturnCode.NoError;
        if (query.EDnsOptions is { } edns)
            response.EDnsOptions = new OptRecord(Responder.MaxUdpPayloadSize) { IsDnsSecOk = edns.IsDnsSecOk };
        if (!first)
            response.Questions.Clear();
        return response;
    }

    /// <summary>A record's size on the wire without name compression: owner, type, class, TTL, length, data.</summary>
    private static int UncompressedSize(DnsRecordBase record) => NameLength(record.Name) + 10 + record switch
    {
        ARecord => 4,
        AaaaRecord => 16,
        SrvRecord srv => 6 + NameLength(srv.Target),
        NsRecord ns => NameLength(ns.NameServer),
        PtrRecord ptr => NameLength(ptr.PointerDomainName),
        SoaRecord soa => NameLength(soa.MasterName) + NameLength(soa.ResponsibleName) + 20,
        _ => throw new ArgumentException($"no size for {record.RecordType} records", nameof(record)),
    };

    private static int NameLength(DomainName name)
    {
        var length = 1; // the root label
        foreach (var label in name.Labels)
            length += 1 + System.Text.Encoding.UTF8.GetByteCount(label);
        return length;
    }

    internal static byte[] Encode(DnsMessage message)
    {
        var encoded = EncodeMessage(message).ToArraySegment(false);
        if (encoded.Count > MaxMessageBytes)
            throw new InvalidOperationException($"a transfer message of {encoded.Count} bytes is beyond compression's reach"); // the byte count above rules this out
        return encoded.ToArray();
    }

    /// <summary>ARSoft's writer (name compression included); internal in ARSoft 3.6.1, whose server loop calls it.</summary>
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Encode")]
    private static extern DnsRawPackage EncodeMessage(DnsMessageBase message);
}
