using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>Every row of the responder table of issue 2, asked over real UDP/TCP sockets.</summary>
public class ResponderTests
{
    private static readonly string[] BigAddresses = Enumerable.Range(0, 100).Select(i => $"10.244.{i / 50}.{i % 50 + 10}").ToArray();
    private ClusterModel model = null!;
    private TestDnsServer server = null!;
    private DnsClient client = null!;

    [OneTimeSetUp]
    public void Start()
    {
        model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.168.1.53")] });
        foreach (var item in new object[]
        {
            Service("default", "web", hosts: "www.example.com"),
            Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11", "10.244.1.12", "10.244.2.13")),
            Service("default", "api", ports: [Port("http", 80)]),
            Slice("default", "api", "api-4", "IPv4", Ready("10.244.2.21")),
            Slice("default", "api", "api-6", "IPv6", Ready("fd00:10:244:2::21")),
            Service("default", "idle"),
            Slice("default", "idle", "idle-1", "IPv4", [Endpoint("10.244.1.140", ready: false)]),
            Service("default", "big"),
            Slice("default", "big", "big-1", "IPv4", Ready(BigAddresses)),
            // Reverse zones: the nodes' podCIDRs, and a second Service answering one of web's pods.
            Node("node-a", ["192.168.1.10"], ["10.244.0.0/24"]),
            Node("node-b", ["192.168.1.11"], ["10.244.1.0/24"]),
            Node("node-c", ["192.168.1.12"], ["10.244.2.0/24", "fd00:10:244:2::/64"]),
            Service("default", "web-canary"),
            Slice("default", "web-canary", "web-canary-1", "IPv4", Ready("10.244.0.11")),
        })
            model.Upsert(item);
        server = TestDnsServer.Start(model.Publish());
        client = server.Client();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        ((IDisposable)client).Dispose();
        await server.DisposeAsync();
    }

    private async Task<DnsMessage> Resolve(string name, RecordType type = RecordType.A, DnsClient? using_ = null)
    {
        var response = await (using_ ?? client).ResolveAsync(DomainName.Parse(name), type);
        Assert.That(response, Is.Not.Null, $"no answer for {name} {type}");
        return response!;
    }

    private static DnsMessage Parse(byte[]? raw)
    {
        Assert.That(raw, Is.Not.Null, "no reply");
        return DnsMessage.Parse(raw!);
    }

    private static void AssertSoa(DnsMessage response, string owner)
    {
        var soa = response.AuthorityRecords.OfType<SoaRecord>().SingleOrDefault();
        Assert.That(soa, Is.Not.Null, "SOA in the authority section");
        Assert.That(soa!.Name.ToString(false), Is.EqualTo(owner).IgnoreCase);
        Assert.That(soa.TimeToLive, Is.EqualTo(5));
        Assert.That(soa.NegativeCachingTTL, Is.EqualTo(5));
    }

    [Test]
    public async Task Served_name_answers_all_ready_addresses_authoritatively_with_the_configured_ttl()
    {
        var response = await Resolve("web.default.minilb");

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(response.IsAuthoritiveAnswer, Is.True);
        Assert.That(response.IsRecursionAllowed, Is.False);
        Assert.That(response.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EquivalentTo(new[] { "10.244.0.11", "10.244.1.12", "10.244.2.13" }));
        Assert.That(response.AnswerRecords.Select(r => r.TimeToLive), Is.All.EqualTo(5));
    }

    [Test]
    public async Task Alias_answers_the_same_addresses_directly()
    {
        var response = await Resolve("www.example.com");

        Assert.That(response.IsAuthoritiveAnswer, Is.True);
        Assert.That(response.AnswerRecords.Select(r => r.RecordType), Is.All.EqualTo(RecordType.A), "no CNAME");
        Assert.That(response.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EquivalentTo(new[] { "10.244.0.11", "10.244.1.12", "10.244.2.13" }));
    }

    [Test]
    public async Task Addresses_are_shuffled_per_response()
    {
        var orders = new HashSet<string>();
        for (var i = 0; i < 30 && orders.Count < 2; i++)
        {
            var response = await Resolve("web.default.minilb");
            orders.Add(string.Join(",", response.AnswerRecords.OfType<ARecord>().Select(a => a.Address)));
        }
        Assert.That(orders, Has.Count.GreaterThan(1), "30 answers with 3 addresses all in the same order");
    }

    [Test]
    public async Task AAAA_answers_IPv6_endpoints()
    {
        var response = await Resolve("api.default.minilb", RecordType.Aaaa);

        Assert.That(response.AnswerRecords.OfType<AaaaRecord>().Select(a => a.Address), Is.EqualTo(new[] { IPAddress.Parse("fd00:10:244:2::21") }));
    }

    [TestCase("web.default.minilb", RecordType.Aaaa, TestName = "NODATA for AAAA on an IPv4-only Service")]
    [TestCase("web.default.minilb", RecordType.Txt, TestName = "NODATA for TXT")]
    [TestCase("web.default.minilb", RecordType.Mx, TestName = "NODATA for MX")]
    [TestCase("idle.default.minilb", RecordType.A, TestName = "NODATA for a Service with 0 ready endpoints")]
    [TestCase("default.minilb", RecordType.A, TestName = "NODATA for the namespace name (empty non-terminal, RFC 8020)")]
    [TestCase("_tcp.api.default.minilb", RecordType.Srv, TestName = "NODATA for the _tcp level (empty non-terminal)")]
    [TestCase("minilb", RecordType.A, TestName = "NODATA for A at the apex")]
    public async Task Nodata_has_no_answer_and_the_zone_SOA(string name, RecordType type)
    {
        var response = await Resolve(name, type);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(response.IsAuthoritiveAnswer, Is.True);
        Assert.That(response.AnswerRecords, Is.Empty);
        AssertSoa(response, "minilb");
    }

    [Test]
    public async Task Nodata_at_an_alias_carries_an_SOA_owned_by_the_alias()
    {
        var response = await Resolve("www.example.com", RecordType.Aaaa);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(response.AnswerRecords, Is.Empty);
        AssertSoa(response, "www.example.com");
    }

    [TestCase("nothing.default.minilb")]
    [TestCase("nothing.minilb")]
    [TestCase("x.web.default.minilb")]
    public async Task Unknown_name_inside_the_zone_is_NXDOMAIN_with_the_SOA(string name)
    {
        var response = await Resolve(name);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NxDomain));
        Assert.That(response.IsAuthoritiveAnswer, Is.True);
        AssertSoa(response, "minilb");
    }

    [Test]
    public async Task Apex_SOA_serial_increases_when_the_data_changes()
    {
        var before = (await Resolve("minilb", RecordType.Soa)).AnswerRecords.OfType<SoaRecord>().Single();
        Assert.That(before.MasterName.ToString(false), Is.EqualTo("ns1.minilb"));
        Assert.That(before.ResponsibleName.ToString(false), Is.EqualTo("hostmaster.minilb"));

        model.Upsert(Slice("default", "api", "api-4", "IPv4", Ready("10.244.2.21", "10.244.2.22")));
        server.Zones.Swap(model.Publish());
        try
        {
            var after = (await Resolve("minilb", RecordType.Soa)).AnswerRecords.OfType<SoaRecord>().Single();
            Assert.That(after.SerialNumber, Is.GreaterThan(before.SerialNumber));
        }
        finally
        {
            model.Upsert(Slice("default", "api", "api-4", "IPv4", Ready("10.244.2.21")));
            server.Zones.Swap(model.Publish());
        }
    }

    [Test]
    public async Task Apex_NS_names_ns1_with_its_address_in_additional()
    {
        var response = await Resolve("minilb", RecordType.Ns);

        Assert.That(response.AnswerRecords.OfType<NsRecord>().Select(n => n.NameServer.ToString(false)), Is.EqualTo(new[] { "ns1.minilb" }));
        Assert.That(response.AdditionalRecords.OfType<ARecord>().Select(a => (a.Name.ToString(false), a.Address.ToString())), Is.EqualTo(new[] { ("ns1.minilb", "192.168.1.53") }));
        var glue = await Resolve("ns1.minilb");
        Assert.That(glue.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EqualTo(new[] { "192.168.1.53" }), "the NS target resolves");
    }

    [Test]
    public async Task SOA_and_NS_at_an_alias_answer_as_its_own_apex()
    {
        var soa = await Resolve("www.example.com", RecordType.Soa);
        var ns = await Resolve("www.example.com", RecordType.Ns);

        Assert.That(soa.AnswerRecords.OfType<SoaRecord>().Single().Name.ToString(false), Is.EqualTo("www.example.com"));
        Assert.That(ns.AnswerRecords.OfType<NsRecord>().Single().NameServer.ToString(false), Is.EqualTo("ns1.minilb"));
    }

    [TestCase("example.com")]
    [TestCase("google.com")]
    [TestCase("x.www.example.com")]
    [TestCase("minilb.example.com")]
    public async Task Names_outside_the_zone_are_refused_without_AA(string name)
    {
        var response = await Resolve(name);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That(response.IsAuthoritiveAnswer, Is.False);
        Assert.That(response.IsRecursionAllowed, Is.False);
        Assert.That(response.AnswerRecords, Is.Empty);
    }

    [Test]
    public async Task SRV_gives_endpoint_ports_and_targets_with_addresses()
    {
        var response = await Resolve("_http._tcp.api.default.minilb", RecordType.Srv);

        var srv = response.AnswerRecords.OfType<SrvRecord>().ToArray();
        Assert.That(srv.Select(s => s.Port), Is.All.EqualTo(8080));
        Assert.That(srv.Select(s => s.Target.ToString(false)), Is.EquivalentTo(new[] { "10-244-2-21.api.default.minilb", "fd00-10-244-2--21.api.default.minilb" }));
        Assert.That(response.AdditionalRecords.Where(r => r.RecordType is RecordType.A or RecordType.Aaaa).Select(r => r.Name.ToString(false)), Is.EquivalentTo(srv.Select(s => s.Target.ToString(false))));
    }

    [Test]
    public async Task ANY_gets_one_RRset_never_NOTIMP()
    {
        using var tcp = server.Client(udp: false);
        var service = await Resolve("web.default.minilb", RecordType.Any, tcp);
        var empty = await Resolve("default.minilb", RecordType.Any, tcp);
        var apex = await Resolve("minilb", RecordType.Any, tcp);

        Assert.That(service.ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(service.AnswerRecords.Select(r => r.RecordType).Distinct(), Is.EqualTo(new[] { RecordType.A }));
        Assert.That(empty.AnswerRecords.OfType<HInfoRecord>().Single().Cpu, Is.EqualTo("RFC8482"));
        Assert.That(apex.AnswerRecords.Select(r => r.RecordType), Is.EqualTo(new[] { RecordType.Soa }));
    }

    [TestCase(RecordType.Axfr)]
    [TestCase(RecordType.Ixfr)]
    public async Task Zone_transfers_are_refused(RecordType type)
    {
        var response = Parse(await server.TcpAsync(RawQuery.Build("minilb", type)));

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That(response.AnswerRecords, Is.Empty);
    }

    [TestCase((ushort)3, TestName = "Class CH is refused")]
    [TestCase((ushort)255, TestName = "Class ANY is refused")]
    public async Task Classes_other_than_IN_are_refused(ushort recordClass)
    {
        var response = Parse(await server.UdpAsync(RawQuery.Build("web.default.minilb", recordClass: recordClass)));

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.Refused));
    }

    [TestCase(15)]
    [TestCase(5, TestName = "UPDATE gets NOTIMP")]
    [TestCase(4, TestName = "NOTIFY gets NOTIMP")]
    [TestCase(2, TestName = "STATUS gets NOTIMP")]
    public async Task Opcodes_other_than_QUERY_get_NOTIMP_without_AA(int opcode)
    {
        var raw = await server.UdpAsync(RawQuery.Build("web.default.minilb", opcode: opcode));

        Assert.That(raw, Is.Not.Null);
        Assert.That(raw![3] & 0x0f, Is.EqualTo((int)ReturnCode.NotImplemented));
        Assert.That(RawQuery.Flag(raw, RawQuery.AA), Is.False);
        Assert.That(RawQuery.Flag(raw, RawQuery.QR), Is.True);
        Assert.That((raw[2] >> 3) & 0x0f, Is.EqualTo(opcode), "the opcode is echoed");
    }

    [TestCase(2)]
    [TestCase(0)]
    public async Task Question_counts_other_than_one_get_FORMERR(int questions)
    {
        var raw = await server.UdpAsync(RawQuery.Build("web.default.minilb", questions: questions));

        Assert.That(raw, Is.Not.Null);
        Assert.That(raw![3] & 0x0f, Is.EqualTo((int)ReturnCode.FormatError));
    }

    [Test]
    public async Task EDNS_version_other_than_0_gets_BADVERS_with_an_OPT_of_version_0()
    {
        var response = Parse(await server.UdpAsync(RawQuery.Build("minilb", RecordType.Soa, edns: new RawQuery.Edns(Version: 1))));

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.BadVersion));
        Assert.That(response.EDnsOptions, Is.Not.Null);
        Assert.That(response.EDnsOptions!.Version, Is.EqualTo(0));
        Assert.That(response.AnswerRecords, Is.Empty);
    }

    [TestCase((ushort)4096, 1232)]
    [TestCase((ushort)1232, 1232)]
    [TestCase((ushort)800, 800)]
    [TestCase((ushort)100, 512)]
    public async Task EDNS_reply_advertises_our_size_and_echoes_no_options_or_reserved_flags(ushort asked, int advertised)
    {
        var query = RawQuery.Build("web.default.minilb", edns: new RawQuery.Edns(Size: asked, DnssecOk: true, ZFlags: 0x1234, Option: RawQuery.UnknownOption(4)));
        var response = Parse(await server.UdpAsync(query));

        var opt = response.EDnsOptions;
        Assert.That(opt, Is.Not.Null);
        Assert.That(opt!.UdpPayloadSize, Is.EqualTo(advertised));
        Assert.That(opt.Options, Is.Empty, "unknown options are not echoed");
        Assert.That(opt.IsDnsSecOk, Is.True, "DO is copied (RFC 3225)");
        Assert.That((opt.TimeToLive & 0x7fff), Is.EqualTo(0), "reserved Z flags are not echoed");
    }

    [Test]
    public async Task Without_EDNS_there_is_no_OPT_in_the_reply()
    {
        var response = Parse(await server.UdpAsync(RawQuery.Build("web.default.minilb")));

        Assert.That(response.EDnsOptions, Is.Null);
        Assert.That(response.AnswerRecords, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task Large_answer_over_UDP_without_EDNS_is_truncated_to_512_bytes()
    {
        var raw = await server.UdpAsync(RawQuery.Build("big.default.minilb"));

        Assert.That(raw, Is.Not.Null);
        Assert.That(raw!.Length, Is.LessThanOrEqualTo(512));
        Assert.That(RawQuery.Flag(raw, RawQuery.TC), Is.True);
    }

    [TestCase((ushort)1232)]
    [TestCase((ushort)700)]
    public async Task Large_answer_over_UDP_with_EDNS_stays_within_the_advertised_size(ushort size)
    {
        var raw = await server.UdpAsync(RawQuery.Build("big.default.minilb", edns: new RawQuery.Edns(Size: size)));

        Assert.That(raw, Is.Not.Null);
        Assert.That(raw!.Length, Is.LessThanOrEqualTo(size));
        Assert.That(RawQuery.Flag(raw, RawQuery.TC), Is.True);
    }

    [Test]
    public async Task Large_answer_is_complete_over_TCP()
    {
        var response = Parse(await server.TcpAsync(RawQuery.Build("big.default.minilb")));

        Assert.That(response.IsTruncated, Is.False);
        Assert.That(response.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EquivalentTo(BigAddresses));
    }

    [Test]
    public async Task A_client_retrying_over_TCP_after_TC_gets_everything()
    {
        var response = await Resolve("big.default.minilb");

        Assert.That(response.AnswerRecords, Has.Count.EqualTo(100));
    }

    [Test]
    public async Task Mixed_case_question_is_matched_and_echoed_exactly()
    {
        var query = RawQuery.Build("WeB.DeFaUlT.MiNiLb");
        var raw = await server.UdpAsync(query);

        Assert.That(raw, Is.Not.Null);
        Assert.That(RawQuery.QuestionSection(raw!), Is.EqualTo(RawQuery.QuestionSection(query)));
        Assert.That(Parse(raw).AnswerRecords, Has.Count.EqualTo(3));

        using var caseChecking = server.Client();
        caseChecking.Is0x20ValidationEnabled = true;
        Assert.That((await Resolve("web.default.minilb", using_: caseChecking)).AnswerRecords, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task A_response_packet_gets_no_reply_and_the_server_keeps_answering()
    {
        var reply = await server.UdpAsync(RawQuery.Build("web.default.minilb", response: true), TimeSpan.FromSeconds(1));

        Assert.That(reply, Is.Null, "QR=1 must be dropped, not answered (not even SERVFAIL)");
        Assert.That(Parse(await server.UdpAsync(RawQuery.Build("web.default.minilb"))).AnswerRecords, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task A_response_packet_over_TCP_is_skipped_and_the_next_query_answered()
    {
        using var socket = await server.ConnectAsync();
        await TestDnsServer.SendTcpAsync(socket, RawQuery.Build("web.default.minilb", response: true, id: 1), RawQuery.Build("web.default.minilb", id: 2));

        var reply = await TestDnsServer.ReceiveTcpAsync(socket);
        Assert.That(reply, Is.Not.Null);
        Assert.That(Parse(reply).TransactionID, Is.EqualTo(2), "the first reply answers the second message");
    }

    [Test]
    public async Task Queries_larger_than_512_bytes_over_UDP_are_answered()
    {
        var query = RawQuery.Build("web.default.minilb", edns: new RawQuery.Edns(Option: RawQuery.UnknownOption(1400)));
        Assert.That(query.Length, Is.GreaterThan(1400));

        var response = Parse(await server.UdpAsync(query));

        Assert.That(response.AnswerRecords, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task RD_is_copied_and_recursion_never_offered()
    {
        var raw = await server.UdpAsync(RawQuery.Build("web.default.minilb", recursionDesired: true));

        Assert.That(raw, Is.Not.Null);
        Assert.That(RawQuery.Flag(raw!, RawQuery.RD), Is.True);
        Assert.That(RawQuery.Flag(raw!, RawQuery.RA), Is.False);
    }

    [Test]
    public async Task A_service_too_large_for_one_TCP_message_gets_a_random_part_not_SERVFAIL()
    {
        var huge = new ClusterModel(new ZoneSettings());
        huge.Upsert(Service("default", "huge"));
        huge.Upsert(Slice("default", "huge", "h", "IPv4", Ready([.. Enumerable.Range(0, 5000).Select(i => $"10.{i / 65536 + 1}.{i / 256 % 256}.{i % 256}")])));
        await using var hugeServer = TestDnsServer.Start(huge.Publish());

        var response = Parse(await hugeServer.TcpAsync(RawQuery.Build("huge.default.minilb")));

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(response.AnswerRecords, Has.Count.EqualTo(MiniLb.Operator.Dns.Responder.MaxAddressAnswers));
    }

    // The reverse zones (PTR) of the nodes' podCIDRs follow the same rules as the forward zone.
    private const string Ipv6Owner = "1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa";
    private const string Ipv6Apex = "2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa";

    [TestCase("13.2.244.10.in-addr.arpa", new[] { "web.default.minilb" })]
    [TestCase("11.0.244.10.in-addr.arpa", new[] { "big.default.minilb", "web.default.minilb", "web-canary.default.minilb" }, TestName = "PTR of an address three Services answer names them all in name order")]
    [TestCase(Ipv6Owner, new[] { "api.default.minilb" }, TestName = "PTR in ip6.arpa for an IPv6 endpoint")]
    [TestCase("13.2.244.10.IN-ADDR.ARPA", new[] { "web.default.minilb" }, TestName = "PTR matched case-insensitively")]
    public async Task PTR_answers_the_Service_names_of_a_served_address(string name, string[] targets)
    {
        for (var i = 0; i < 3; i++)
        {
            var response = await Resolve(name, RecordType.Ptr);

            Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NoError));
            Assert.That(response.IsAuthoritiveAnswer, Is.True);
            Assert.That(response.AnswerRecords.OfType<PtrRecord>().Select(p => p.PointerDomainName.ToString(false)), Is.EqualTo(targets), "every time in the same order");
            Assert.That(response.AnswerRecords.Select(r => r.TimeToLive), Is.All.EqualTo(5));
        }
    }

    [TestCase("99.0.244.10.in-addr.arpa", "0.244.10.in-addr.arpa", TestName = "NXDOMAIN for an address no Service answers")]
    [TestCase("140.1.244.10.in-addr.arpa", "1.244.10.in-addr.arpa", TestName = "NXDOMAIN for a pod that is not ready")]
    [TestCase("x.12.1.244.10.in-addr.arpa", "1.244.10.in-addr.arpa", TestName = "NXDOMAIN below a PTR owner")]
    [TestCase("2.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa", Ipv6Apex, TestName = "NXDOMAIN in ip6.arpa")]
    public async Task Unknown_name_in_a_reverse_zone_is_NXDOMAIN_with_its_SOA(string name, string apex)
    {
        var response = await Resolve(name, RecordType.Ptr);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NxDomain));
        Assert.That(response.IsAuthoritiveAnswer, Is.True);
        AssertSoa(response, apex);
    }

    [TestCase("12.1.244.10.in-addr.arpa", RecordType.A, "1.244.10.in-addr.arpa", TestName = "NODATA for A on a PTR owner")]
    [TestCase("12.1.244.10.in-addr.arpa", RecordType.Txt, "1.244.10.in-addr.arpa", TestName = "NODATA for TXT on a PTR owner")]
    [TestCase("0.244.10.in-addr.arpa", RecordType.Ptr, "0.244.10.in-addr.arpa", TestName = "NODATA for PTR at a reverse apex")]
    [TestCase("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa", RecordType.Ptr, Ipv6Apex,
        TestName = "NODATA for an empty non-terminal in ip6.arpa (RFC 8020)")]
    public async Task Nodata_in_a_reverse_zone_has_no_answer_and_its_SOA(string name, RecordType type, string apex)
    {
        var response = await Resolve(name, type);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(response.IsAuthoritiveAnswer, Is.True);
        Assert.That(response.AnswerRecords, Is.Empty);
        AssertSoa(response, apex);
    }

    [Test]
    public async Task A_reverse_apex_has_its_own_SOA_and_NS_ns1_with_glue()
    {
        var soa = (await Resolve("1.244.10.in-addr.arpa", RecordType.Soa)).AnswerRecords.OfType<SoaRecord>().Single();
        var ns = await Resolve("1.244.10.in-addr.arpa", RecordType.Ns);

        Assert.That(soa.Name.ToString(false), Is.EqualTo("1.244.10.in-addr.arpa"));
        Assert.That((soa.MasterName.ToString(false), soa.ResponsibleName.ToString(false)), Is.EqualTo(("ns1.minilb", "hostmaster.minilb")));
        Assert.That(ns.AnswerRecords.OfType<NsRecord>().Select(n => n.NameServer.ToString(false)), Is.EqualTo(new[] { "ns1.minilb" }));
        Assert.That(ns.AdditionalRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EqualTo(new[] { "192.168.1.53" }));
    }

    [TestCase("1.0.99.10.in-addr.arpa", TestName = "An address in no node's podCIDR is refused")]
    [TestCase("244.10.in-addr.arpa", TestName = "A name above every reverse apex is refused")]
    [TestCase("in-addr.arpa")]
    [TestCase("1.0.0.127.in-addr.arpa")]
    [TestCase("d.f.ip6.arpa")]
    public async Task Reverse_names_outside_every_reverse_zone_are_refused(string name)
    {
        var response = await Resolve(name, RecordType.Ptr);

        Assert.That(response.ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That(response.IsAuthoritiveAnswer, Is.False);
    }

    [Test]
    public async Task ANY_on_a_PTR_owner_gets_the_PTR_RRset()
    {
        var response = await Resolve("11.0.244.10.in-addr.arpa", RecordType.Any, server.Client(udp: false));

        Assert.That(response.AnswerRecords.Select(r => r.RecordType), Is.EqualTo(new[] { RecordType.Ptr, RecordType.Ptr, RecordType.Ptr }));
    }
}
