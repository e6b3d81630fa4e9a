using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>
/// The responder's protocol rules, one RFC case per row, in process (<see cref="DnsCase"/>): EDNS, opcodes,
/// question counts, classes, ANY, SRV, PTR, negative answers and their TTLs. The shape of the name space
/// (wildcards, empty non-terminals, aliases, the apex) is in <c>Resolution/ZoneCases</c>. Over real sockets,
/// <see cref="ResponderTests"/> asks the same rules through the transports, with what only the wire shows (UPDATE,
/// AXFR/IXFR, Z flags, QR=1); TC and sizes (RFC 2181 §9, RFC 7766) are the size stage's, in
/// <see cref="QueryPipelineTests"/>; <see cref="ResponderUnitTests"/> covers the shuffle and QR=1 in process.
/// </summary>
public class ResponderCases
{
    private const string ZoneSoa = "minilb 5 SOA ns1.minilb hostmaster.minilb {serial} 7200 1800 86400 5";
    private const string OurOpt = "udp=1232 version=0 do=0 options=0";

    private static readonly Zone Zone = Build(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.168.1.53")] });
    private static readonly Zone LongTtlZone = Build(new ZoneSettings { Ttl = 30 });

    private static Zone Build(ZoneSettings settings)
    {
        var model = new ClusterModel(settings);
        foreach (var item in new object[]
        {
            Service("default", "web"),
            Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11", "10.244.1.12")),
            Service("default", "api", ports: [Port("http", 80)]),
            Slice("default", "api", "api-4", "IPv4", Ready("10.244.2.21")),
            Slice("default", "api", "api-6", "IPv6", Ready("fd00:10:244:2::21")),
            Service("default", "six"),
            Slice("default", "six", "six-1", "IPv6", Ready("fd00:10:244:2::30")),
            Node("node-c", ["192.168.1.12"], ["10.244.2.0/24"]),
        })
            model.Upsert(item);
        return model.Publish();
    }

    private static Action<DnsMessage> Edns(ushort size = 4096, byte version = 0, bool dnssecOk = false, EDnsOptionBase? option = null) => query =>
    {
        // Version last: ARSoft's IsDnsSecOk setter rewrites the whole TTL field that also holds the version.
        query.EDnsOptions = new OptRecord(size) { IsDnsSecOk = dnssecOk, Version = version };
        if (option is not null)
            query.EDnsOptions.Options.Add(option);
    };

    private static Action<DnsMessage> Opcode(int code) => query => query.OperationCode = (OperationCode)code;

    private static readonly string[] WebA = ["web.default.minilb 5 A 10.244.0.11", "web.default.minilb 5 A 10.244.1.12"];

    private static IEnumerable<TestCaseData> Cases() => new DnsCase[]
    {
        // RFC 1034 §4.3.2: step 2 finds no zone for the name; minilb is no resolver (RA=0, REFUSED as CoreDNS and Knot).
        new("RFC 1034 4.3.2 step 2: no zone holds the name, REFUSED without AA or SOA", "example.org") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("RFC 1035 4.1.1: RD is copied, RA stays clear", "web.default.minilb") { Answer = WebA, Ask = q => q.IsRecursionDesired = true },

        // RFC 6891: EDNS.
        new("RFC 6891 7: an EDNS query gets our OPT: 1232 for 4096 asked, version 0", "web.default.minilb") { Answer = WebA, Edns = OurOpt, Ask = Edns() },
        new("RFC 6891 6.2.5: a size under 512 is read as 512", "web.default.minilb") { Answer = WebA, Edns = "udp=512 version=0 do=0 options=0", Ask = Edns(size: 100) },
        new("RFC 6891 6.1.3: EDNS version 1 gets BADVERS with an OPT of version 0 and no data", "web.default.minilb")
        {
            Rcode = ReturnCode.BadVersion, Authoritative = false, Edns = OurOpt, Ask = Edns(version: 1),
        },
        new("RFC 6891 6.1.2: an unknown option is ignored and not echoed", "web.default.minilb")
        {
            Answer = WebA, Edns = OurOpt, Ask = Edns(option: new UnknownOption((EDnsOptionType)65001, [1, 2, 3, 4])),
        },
        new("RFC 3225 3: DO is copied", "web.default.minilb") { Answer = WebA, Edns = "udp=1232 version=0 do=1 options=0", Ask = Edns(dnssecOk: true) },
        new("RFC 6891 7: NXDOMAIN keeps the OPT", "nothing.default.minilb")
        {
            Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa], Edns = OurOpt, Ask = Edns(),
        },
        new("RFC 6891 7: NOTIMP keeps the OPT", "web.default.minilb")
        {
            Rcode = ReturnCode.NotImplemented, Authoritative = false, Edns = OurOpt, Ask = q => { Edns()(q); Opcode(4)(q); },
        },

        // RFC 8906 §7 (RFC 1035 §4.1.1): opcodes other than QUERY get NOTIMP without AA and without data.
        new("RFC 3425: IQUERY gets NOTIMP", "web.default.minilb") { Rcode = ReturnCode.NotImplemented, Authoritative = false, Ask = Opcode(1) },
        new("RFC 8906 7: STATUS gets NOTIMP", "web.default.minilb") { Rcode = ReturnCode.NotImplemented, Authoritative = false, Ask = Opcode(2) },
        new("RFC 1996: NOTIFY gets NOTIMP, minilb is no secondary", "minilb", RecordType.Soa) { Rcode = ReturnCode.NotImplemented, Authoritative = false, Ask = Opcode(4) },
        new("RFC 8906 7: opcode 15 gets NOTIMP", "web.default.minilb") { Rcode = ReturnCode.NotImplemented, Authoritative = false, Ask = Opcode(15) },

        // RFC 9619: exactly one question.
        new("RFC 9619: no question gets FORMERR", "web.default.minilb") { Rcode = ReturnCode.FormatError, Authoritative = false, Ask = q => q.Questions.Clear() },
        new("RFC 9619: two questions get FORMERR", "web.default.minilb")
        {
            Rcode = ReturnCode.FormatError, Authoritative = false, Ask = q => q.Questions.Add(new DnsQuestion(DomainName.Parse("api.default.minilb"), RecordType.A, RecordClass.INet)),
        },

        // Classes: only IN is served (as CoreDNS); CH is what version.bind probes use.
        new("Class CH is refused: version.bind", "version.bind", RecordType.Txt) { Class = RecordClass.Chaos, Rcode = ReturnCode.Refused, Authoritative = false },
        new("Class HS is refused", "web.default.minilb") { Class = RecordClass.Hesiod, Rcode = ReturnCode.Refused, Authoritative = false },
        new("Class ANY is refused", "web.default.minilb") { Class = RecordClass.Any, Rcode = ReturnCode.Refused, Authoritative = false },

        // RFC 8482: ANY gets one RRset, or a synthesised HINFO; never NOTIMP.
        new("RFC 8482 4.2: ANY on an IPv4 name gets its A RRset", "web.default.minilb", RecordType.Any) { Answer = WebA },
        new("RFC 8482 4.2: ANY on an IPv6-only name gets its AAAA RRset", "six.default.minilb", RecordType.Any) { Answer = ["six.default.minilb 5 AAAA fd00:10:244:2::30"] },
        new("RFC 8482 4.2: ANY on an SRV name gets the SRV RRset", "_http._tcp.api.default.minilb", RecordType.Any)
        {
            Answer = ["_http._tcp.api.default.minilb 5 SRV 0 1 8080 10-244-2-21.api.default.minilb", "_http._tcp.api.default.minilb 5 SRV 0 1 8080 fd00-10-244-2--21.api.default.minilb"],
        },
        new("RFC 8482 4.2: ANY on an empty non-terminal gets HINFO RFC8482", "default.minilb", RecordType.Any) { Answer = ["default.minilb 5 HINFO \"RFC8482\" \"\""] },
        new("RFC 8482: ANY on a name that does not exist is NXDOMAIN", "nothing.default.minilb", RecordType.Any) { Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa] },

        // SRV (RFC 2782): the endpoint port, a target that resolves, its addresses as additional data.
        new("RFC 2782: SRV gives the endpoint port and targets, their addresses in ADDITIONAL", "_http._tcp.api.default.minilb", RecordType.Srv)
        {
            Answer = ["_http._tcp.api.default.minilb 5 SRV 0 1 8080 10-244-2-21.api.default.minilb", "_http._tcp.api.default.minilb 5 SRV 0 1 8080 fd00-10-244-2--21.api.default.minilb"],
            Additional = ["10-244-2-21.api.default.minilb 5 A 10.244.2.21", "fd00-10-244-2--21.api.default.minilb 5 AAAA fd00:10:244:2::21"],
        },
        new("0x20: SRV owner keeps the case asked, targets are ours", "_HTTP._Tcp.API.default.minilb", RecordType.Srv)
        {
            Answer = ["_HTTP._Tcp.API.default.minilb 5 SRV 0 1 8080 10-244-2-21.api.default.minilb", "_HTTP._Tcp.API.default.minilb 5 SRV 0 1 8080 fd00-10-244-2--21.api.default.minilb"],
            Additional = ["10-244-2-21.api.default.minilb 5 A 10.244.2.21", "fd00-10-244-2--21.api.default.minilb 5 AAAA fd00:10:244:2::21"],
        },
        new("RFC 2782: a port name the Service lacks is NXDOMAIN", "_grpc._tcp.api.default.minilb", RecordType.Srv) { Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa] },
        new("RFC 2782: a protocol the Service lacks is NXDOMAIN", "_http._udp.api.default.minilb", RecordType.Srv) { Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa] },
        new("RFC 2308 2.2: SRV on the Service name itself is NODATA", "api.default.minilb", RecordType.Srv) { Authority = [ZoneSoa] },
        new("RFC 2308 2.2: A on an SRV name is NODATA", "_http._tcp.api.default.minilb") { Authority = [ZoneSoa] },
        new("An SRV target resolves to its endpoint", "10-244-2-21.api.default.minilb") { Answer = ["10-244-2-21.api.default.minilb 5 A 10.244.2.21"] },

        // PTR (RFC 1035 §3.5): in the reverse zone of a node's podCIDR; a forward name has none.
        new("RFC 1035 3.5: PTR of a served address names its Service", "21.2.244.10.in-addr.arpa", RecordType.Ptr) { Answer = ["21.2.244.10.in-addr.arpa 5 PTR api.default.minilb"] },
        new("RFC 2308 2.2: PTR on a forward name is NODATA", "web.default.minilb", RecordType.Ptr) { Authority = [ZoneSoa] },

        // Other types: NODATA, never NOTIMP (RFC 8906 §3.1.3); the zone has no CNAMEs (RFC 2181 §10.1).
        new("RFC 3597: an unknown type TYPE1000 is NODATA", "web.default.minilb", (RecordType)1000) { Authority = [ZoneSoa] },
        new("RFC 2181 10.1: CNAME on a served name is NODATA, names are answered directly", "web.default.minilb", RecordType.CName) { Authority = [ZoneSoa] },
        new("RFC 2308 2.2: SOA below the apex is NODATA", "web.default.minilb", RecordType.Soa) { Authority = [ZoneSoa] },
    }.Select(c => c.AsTestCase());

    private const string LongTtlSoa = "minilb 30 SOA ns1.minilb hostmaster.minilb {serial} 7200 1800 86400 30";

    /// <summary>A zone with TTL 30 and no name-server addresses.</summary>
    private static IEnumerable<TestCaseData> LongTtlCases() => new DnsCase[]
    {
        new("RFC 2308 5: with TTL 30, NXDOMAIN's SOA has TTL and MINIMUM 30", "nothing.default.minilb") { Rcode = ReturnCode.NxDomain, Authority = [LongTtlSoa] },
        new("RFC 2308 5: with TTL 30, NODATA's SOA has TTL and MINIMUM 30", "web.default.minilb", RecordType.Aaaa) { Authority = [LongTtlSoa] },
        new("With TTL 30, answers carry TTL 30", "web.default.minilb") { Answer = ["web.default.minilb 30 A 10.244.0.11", "web.default.minilb 30 A 10.244.1.12"] },
        new("RFC 1034 4.2.1: without a name-server address in the settings, NS at the apex has no glue", "minilb", RecordType.Ns) { Answer = ["minilb 30 NS ns1.minilb"] },
    }.Select(c => c.AsTestCase());

    [TestCaseSource(nameof(Cases))]
    public void Answers(DnsCase row) => row.AssertAnsweredBy(Zone);

    [TestCaseSource(nameof(LongTtlCases))]
    public void Answers_with_TTL_30_and_no_name_server_address(DnsCase row) => row.AssertAnsweredBy(LongTtlZone);
}
