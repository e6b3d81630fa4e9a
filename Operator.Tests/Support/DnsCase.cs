using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests;

/// <summary>
/// One row of a CoreDNS-style table (as in coredns <c>plugin/test</c>): a question, how it is asked, and the whole
/// response the <see cref="Responder"/> must give on a zone, in process. Records are written in presentation
/// format without the final dot, <c>owner TTL TYPE data</c>; <c>{serial}</c> stands for the zone's SOA serial.
/// Sections are compared as sets (addresses are shuffled), every section, so a row states the full answer.
/// </summary>
/// <param name="Title">The test name: the rule in words, with the RFC section it comes from.</param>
public sealed record DnsCase(string Title, string Name, RecordType Type = RecordType.A)
{
    public ReturnCode Rcode { get; init; } = ReturnCode.NoError;

    /// <summary>AA: set on every answer from our data, clear on REFUSED, NOTIMP, FORMERR and BADVERS.</summary>
    public bool Authoritative { get; init; } = true;

    public string[] Answer { get; init; } = [];
    public string[] Authority { get; init; } = [];
    public string[] Additional { get; init; } = [];

    /// <summary>The reply's OPT as <see cref="Format(OptRecord)"/> writes it; null: the reply has none (RFC 6891 §7).</summary>
    public string? Edns { get; init; }

    public RecordClass Class { get; init; } = RecordClass.INet;

    /// <summary>Changes the query before it is asked: flags, opcode, EDNS, more or fewer questions.</summary>
    public Action<DnsMessage>? Ask { get; init; }

    public override string ToString() => Title;

    /// <summary>The NUnit case for a table: named by its title so a failure reads as the rule it breaks.</summary>
    public TestCaseData AsTestCase() => new TestCaseData(this).SetName(Title);

    /// <summary>Asks <paramref name="zone"/> (through a <see cref="Responder"/> with a fixed seed) and checks the whole reply.</summary>
    public void AssertAnsweredBy(Zone zone)
    {
        var query = new DnsMessage { IsQuery = true, TransactionID = 0x5a5a };
        query.Questions.Add(new DnsQuestion(DomainName.Parse(Name), Type, Class));
        Ask?.Invoke(query);

        var response = new Responder(new Random(1)).Respond(query, zone);

        Assert.That(response, Is.Not.Null, "a query gets a reply");
        Assert.Multiple(() =>
        {
            Assert.That(response!.ReturnCode, Is.EqualTo(Rcode), "RCODE");
            Assert.That(response.IsAuthoritiveAnswer, Is.EqualTo(Authoritative), "AA");
            Assert.That(response.IsQuery, Is.False, "QR");
            Assert.That(response.TransactionID, Is.EqualTo(query.TransactionID), "ID");
            Assert.That(response.OperationCode, Is.EqualTo(query.OperationCode), "the opcode is echoed");
            Assert.That(response.IsRecursionDesired, Is.EqualTo(query.IsRecursionDesired), "RD is copied (RFC 1035 §4.1.1)");
            Assert.That(response.IsRecursionAllowed, Is.False, "RA: minilb never recurses");
            Assert.That(response.IsTruncated, Is.False, "TC: the responder never truncates, the size stage does");
            // 0x20: the question comes back byte for byte, case included (draft-vixie-dnsext-dns0x20, RFC 4343 §4.1).
            Assert.That(response.Questions.Select(Format), Is.EqualTo(query.Questions.Select(Format)), "question echoed exactly");
            Assert.That(response.AnswerRecords.Select(Format), Is.EquivalentTo(Expected(Answer, zone)), "ANSWER");
            Assert.That(response.AuthorityRecords.Select(Format), Is.EquivalentTo(Expected(Authority, zone)), "AUTHORITY");
            Assert.That(response.AdditionalRecords.Where(r => r is not OptRecord).Select(Format), Is.EquivalentTo(Expected(Additional, zone)), "ADDITIONAL");
            Assert.That(response.EDnsOptions is { } opt ? Format(opt) : null, Is.EqualTo(Edns), "OPT");
        });
    }

    private static IEnumerable<string> Expected(IEnumerable<string> expected, Zone zone) =>
        expected.Select(e => e.Replace("{serial}", zone.Serial.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));

    private static string Format(DnsQuestion question) => $"{question.Name.ToString(false)} {question.RecordClass} {question.RecordType}";

    /// <summary>A record in presentation format, owner case as sent.</summary>
    public static string Format(DnsRecordBase record)
    {
        var data = record switch
        {
            ARecord a => a.Address.ToString(),
            AaaaRecord aaaa => aaaa.Address.ToString(),
            NsRecord ns => ns.NameServer.ToString(false),
            PtrRecord ptr => ptr.PointerDomainName.ToString(false),
            SrvRecord srv => $"{srv.Priority} {srv.Weight} {srv.Port} {srv.Target.ToString(false)}",
            SoaRecord soa => $"{soa.MasterName.ToString(false)} {soa.ResponsibleName.ToString(false)} {soa.SerialNumber} {soa.RefreshInterval} {soa.RetryInterval} {soa.ExpireInterval} {soa.NegativeCachingTTL}",
            HInfoRecord hinfo => $"\"{hinfo.Cpu}\" \"{hinfo.OperatingSystem}\"",
            _ => $"(unexpected {record.GetType().Name})",
        };
        return $"{record.Name.ToString(false)} {record.TimeToLive} {record.RecordType.ToString().ToUpperInvariant()} {data}";
    }

    /// <summary>The OPT of a reply, e.g. <c>udp=1232 version=0 do=1 options=0</c>.</summary>
    public static string Format(OptRecord opt) =>
        $"udp={opt.UdpPayloadSize} version={opt.Version} do={(opt.IsDnsSecOk ? 1 : 0)} options={opt.Options.Count}";
}
