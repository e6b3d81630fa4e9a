using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Snapshot;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>
/// The fast path must say exactly what the slow path (ARSoft + Responder) says: every name of the sample
/// snapshot (plus names that do not exist and names outside the zone), every query kind, asked of a server with
/// the fast path and of one without, over UDP and TCP, compared field by field (address order aside).
/// </summary>
public class PreparedAnswersTests
{
    private static readonly RecordType[] Types =
        [RecordType.A, RecordType.Aaaa, RecordType.Srv, RecordType.Soa, RecordType.Ns, RecordType.Txt, RecordType.Any, RecordType.Https, RecordType.Ptr];

    private static readonly RawQuery.Edns?[] EdnsVariants =
        [null, new RawQuery.Edns(), new RawQuery.Edns(Size: 4096, DnssecOk: true), new RawQuery.Edns(Size: 512, Option: RawQuery.UnknownOption(6))];

    private Zone zone = null!;
    private TestDnsServer fast = null!, slow = null!;

    [OneTimeSetUp]
    public void Start()
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.168.1.53")] });
        foreach (var item in SnapshotReader.Read(SampleSnapshot).Objects)
            model.Upsert(item);
        // A Service too large for one UDP answer: only TCP, or TC over UDP.
        model.Upsert(Service("default", "big"));
        model.Upsert(Slice("default", "big", "big-1", "IPv4", Ready([.. Enumerable.Range(0, 100).Select(i => $"10.244.{i / 50}.{i % 50 + 10}")])));
        // Reverse zones: the sample's nodes have 10.244.{0,1,2}.0/24; an IPv6 node, and a pod two Services answer.
        model.Upsert(Node("node-v6", ["fd00::10"], ["fd00:10:244:7::/64"]));
        model.Upsert(Service("default", "twin"));
        model.Upsert(Slice("default", "twin", "twin-1", "IPv4", Ready("10.244.0.11")));
        model.Upsert(Slice("default", "twin", "twin-6", "IPv6", Ready("fd00:10:244:7::5")));
        zone = model.Publish();
        fast = TestDnsServer.Start(zone);
        slow = TestDnsServer.Start(zone, new DnsHostOptions { FastPath = false });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await fast.DisposeAsync();
        await slow.DisposeAsync();
    }

    private IEnumerable<string> Names() =>
        zone.Names.Keys.Concat(zone.Aliases.Keys).Concat(zone.AliasParents.Keys).Append(zone.Apex)
            .Concat(zone.Reverse.Apexes.Keys).Concat(zone.Reverse.Pointers.Keys).Concat(zone.Reverse.Parents.Keys)
            .Select(n => n.ToString(false))
            .Concat(["nope." + zone.Apex.ToString(false), "deep.nope." + zone.Apex.ToString(false), "example.org", "nope.www.example.com"])
            .Concat(["99.0.244.10.in-addr.arpa", "x.11.0.244.10.in-addr.arpa", "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa", "1.0.99.10.in-addr.arpa"])
            .Distinct();

    [Test]
    public async Task Every_name_and_query_kind_gets_the_responders_answer_over_udp()
    {
        var random = new Random(6);
        var compared = 0;
        foreach (var name in Names())
        {
            foreach (var type in Types)
            {
                foreach (var edns in EdnsVariants)
                {
                    var asked = random.Next(2) == 0 ? name : MixCase(name, random);
                    var query = RawQuery.Build(asked, type, id: (ushort)random.Next(65536), edns: edns, recursionDesired: random.Next(2) == 0);
                    var expected = await slow.UdpAsync(query);
                    // The first answer teaches the fast path; the later ones come from it.
                    for (var i = 0; i < 3; i++)
                        AssertSame(await fast.UdpAsync(query), expected, $"{asked} {type} EDNS {edns?.Size.ToString() ?? "none"} (try {i + 1})");
                    compared++;
                }
            }
        }
        Assert.That(fast.Host.PreparedAnswerCount, Is.GreaterThan(compared / 2), "most queries should be answered by the fast path");
    }

    [Test]
    public async Task Every_name_gets_the_responders_answer_over_tcp()
    {
        var random = new Random(7);
        foreach (var name in Names())
        {
            foreach (var type in new[] { RecordType.A, RecordType.Aaaa, RecordType.Srv, RecordType.Soa })
            {
                var query = RawQuery.Build(MixCase(name, random), type, id: (ushort)random.Next(65536), edns: new RawQuery.Edns());
                var expected = await slow.TcpAsync(query);
                await fast.UdpAsync(query); // learn over UDP, replay over TCP
                AssertSame(await fast.TcpAsync(query), expected, $"{name} {type} over TCP");
            }
        }
    }

    [Test]
    public async Task Answers_too_large_for_the_client_are_truncated_as_the_slow_path_does()
    {
        var name = "big.default." + zone.Apex.ToString(false);
        var large = RawQuery.Build(name, edns: new RawQuery.Edns(Size: 4096));
        await fast.TcpAsync(large);
        await fast.UdpAsync(large);
        foreach (var edns in new RawQuery.Edns?[] { null, new RawQuery.Edns(Size: 512), new RawQuery.Edns(Size: 4096) })
        {
            var query = RawQuery.Build(name, edns: edns);
            var answer = await fast.UdpAsync(query);
            AssertSame(answer, await slow.UdpAsync(query), $"big EDNS {edns?.Size.ToString() ?? "none"}");
            Assert.That(RawQuery.Flag(answer!, RawQuery.TC), Is.True, "100 addresses never fit 512 or 1232 bytes");
        }
    }

    [Test]
    public async Task A_new_zone_is_answered_from_the_new_data_at_once()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));
        await using var server = TestDnsServer.Start(model.Publish());
        var query = RawQuery.Build("web.default.minilb");
        for (var i = 0; i < 3; i++)
            await server.UdpAsync(query);

        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.99")));
        server.Zones.Swap(model.Publish());

        var answer = DnsMessage.Parse((await server.UdpAsync(query))!);
        Assert.That(answer.AnswerRecords.OfType<ARecord>().Select(a => a.Address), Is.EqualTo(new[] { IPAddress.Parse("10.244.0.99") }));
    }

    [Test]
    public async Task Names_that_do_not_exist_get_the_responders_NXDOMAIN_without_an_entry_each()
    {
        var zone = WildcardZone(); // one zone for both: two would get different serials across a second boundary
        await using var wildcards = TestDnsServer.Start(zone);
        await using var reference = TestDnsServer.Start(zone, new DnsHostOptions { FastPath = false });
        // Below the apex, below a namespace, and below the namespace "ns1", whose name the SOA's MNAME shares.
        var asked = await AskMissingNamesAsync(wildcards, reference, new Random(8), ["", "default.", "ns1.", "a.b.c."], 25,
            (random, parent) => $"nope{random.Next()}.{parent}minilb", i => i % 5 == 0 ? RecordType.Aaaa : RecordType.A);
        Assert.That(wildcards.Host.PreparedAnswerCount, Is.LessThan(asked / 10), $"{asked} missing names asked: no entry kept for each");
    }

    [Test]
    public async Task Names_that_do_not_exist_in_a_reverse_zone_get_the_responders_NXDOMAIN_without_an_entry_each()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.244.0.0/24", "fd00:10:244::/64"]));
        model.Upsert(Node("node-b", ["192.168.1.11"], ["10.245.0.0/16"]));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11", "10.245.3.4")));
        var zone = model.Publish();
        await using var server = TestDnsServer.Start(zone);
        await using var reference = TestDnsServer.Start(zone, new DnsHostOptions { FastPath = false });
        // In a /24 zone, in a /16 zone (beside and below an empty non-terminal), and in ip6.arpa.
        var asked = await AskMissingNamesAsync(server, reference, new Random(9),
            ["0.244.10.in-addr.arpa", "245.10.in-addr.arpa", "3.245.10.in-addr.arpa", "0.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa"], 10,
            (random, parent) => $"{random.Next(12, 256)}.{parent}", i => i % 3 == 0 ? RecordType.A : RecordType.Ptr);
        Assert.That(server.Host.PreparedAnswerCount, Is.LessThan(asked / 5), $"{asked} missing names asked: no entry kept for each");
    }

    /// <summary>Missing names below each parent, with every EDNS variant, asked of both servers and compared; returns how many.</summary>
    private static async Task<int> AskMissingNamesAsync(TestDnsServer fast, TestDnsServer reference, Random random, string[] parents, int perParent,
        Func<Random, string, string> nameBelow, Func<int, RecordType> typeOf)
    {
        var asked = 0;
        foreach (var edns in EdnsVariants)
        {
            foreach (var parent in parents)
            {
                for (var i = 0; i < perParent; i++)
                {
                    var name = MixCase(nameBelow(random, parent), random);
                    var query = RawQuery.Build(name, typeOf(i), id: (ushort)random.Next(65536), edns: edns, recursionDesired: i % 2 == 0);
                    AssertSame(await fast.UdpAsync(query), await reference.UdpAsync(query), $"{name} EDNS {edns?.Size.ToString() ?? "none"}");
                    asked++;
                }
            }
        }
        return asked;
    }

    [Test]
    public async Task Names_covered_by_a_wildcard_or_above_a_name_are_not_NXDOMAIN_on_the_fast_path()
    {
        await using var server = TestDnsServer.Start(WildcardZone());
        for (var i = 0; i < 3; i++)
            await server.UdpAsync(RawQuery.Build($"nope{i}.minilb")); // the NXDOMAIN shape is learned

        var covered = DnsMessage.Parse((await server.UdpAsync(RawQuery.Build("anything.shop.minilb")))!);
        Assert.That(covered.ReturnCode, Is.EqualTo(ReturnCode.NoError), "covered by *.shop.minilb");
        Assert.That(covered.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EqualTo(new[] { "10.244.0.11" }));
        var emptyNonTerminal = DnsMessage.Parse((await server.UdpAsync(RawQuery.Build("Default.minilb")))!);
        Assert.That(emptyNonTerminal.ReturnCode, Is.EqualTo(ReturnCode.NoError), "a namespace exists above its Services (RFC 8020)");
        var twoLabels = DnsMessage.Parse((await server.UdpAsync(RawQuery.Build("a.b.shop.minilb")))!);
        Assert.That(twoLabels.ReturnCode, Is.EqualTo(ReturnCode.NxDomain), "an Ingress wildcard covers exactly one label");
    }

    [Test]
    public async Task A_missing_name_is_answered_from_the_shape_another_missing_name_taught()
    {
        var zone = WildcardZone();
        await using var reference = TestDnsServer.Start(zone, new DnsHostOptions { FastPath = false });
        var answers = new PreparedAnswers(zone);
        var key = new byte[PreparedAnswers.MaxKeyLength];
        var output = new byte[512];
        var teacher = RawQuery.Build("first.default.minilb", edns: new RawQuery.Edns());
        Assert.That(answers.TryAnswer(teacher, WireMessage.Read(teacher), zone, output, 512, key, out _, out var keyLength), Is.EqualTo(PreparedAnswers.Outcome.Learnable));
        await answers.NxDomainBuiltAsync(zone).WaitAsync(TestDnsServer.Patience); // built off the query path
        var taught = (await reference.UdpAsync(teacher))!;
        answers.Learn(key[..keyLength], zone, taught);

        var other = RawQuery.Build("Second.Other.minilb", id: 99, edns: new RawQuery.Edns());
        var expected = await reference.UdpAsync(other);
        Assert.That(answers.TryAnswer(other, WireMessage.Read(other), zone, output, 512, key, out var length, out _), Is.EqualTo(PreparedAnswers.Outcome.Answered));
        AssertSame(output[..length], expected, "the fast path's own NXDOMAIN");
        Assert.That(answers.Count, Is.Zero, "no entry per name");
    }

    /// <summary>web.default.minilb, with an Ingress wildcard *.shop.minilb on it.</summary>
    private static Zone WildcardZone()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));
        model.Upsert(Ingress("default", "shop", ["*.shop.minilb"], "web.default.minilb"));
        return model.Publish();
    }

    [Test]
    public void Unusual_queries_are_left_to_the_slow_path()
    {
        var key = new byte[PreparedAnswers.MaxKeyLength];
        int ReadKey(byte[] query) => PreparedAnswers.ReadKey(query, WireMessage.Read(query), key);
        Assert.Multiple(() =>
        {
            Assert.That(ReadKey(RawQuery.Build("web.default.minilb")), Is.GreaterThan(0), "a plain query");
            Assert.That(ReadKey(RawQuery.Build("web.default.minilb", questions: 2)), Is.Zero, "two questions");
            Assert.That(ReadKey(RawQuery.Build("web.default.minilb", opcode: 2)), Is.Zero, "opcode STATUS");
            Assert.That(ReadKey(RawQuery.Build("web.default.minilb", response: true)), Is.Zero, "a response");
            Assert.That(ReadKey(RawQuery.Build("web.default.minilb", edns: new RawQuery.Edns(Version: 1))), Is.Zero, "EDNS version 1");
            Assert.That(ReadKey(RawQuery.Build("we b.default.minilb")), Is.Zero, "a space in a label");
            Assert.That(ReadKey([.. RawQuery.Build("web.default.minilb"), 0]), Is.Zero, "a trailing byte");
        });
    }

    private static string MixCase(string name, Random random) =>
        string.Concat(name.Select(c => random.Next(2) == 0 ? char.ToUpperInvariant(c) : c));

    /// <summary>Same header, same question bytes, same records (address order aside), same OPT, same size.</summary>
    internal static void AssertSame(byte[]? actual, byte[]? expected, string what)
    {
        Assert.That(actual is null, Is.EqualTo(expected is null), $"{what}: answered by one path only");
        if (actual is null || expected is null)
            return;
        var a = DnsMessage.Parse(actual);
        var e = DnsMessage.Parse(expected);
        if (e.IsTruncated)
        {
            // Both paths answer with TC and a random part of the addresses: records differ by design.
            Assert.Multiple(() =>
            {
                Assert.That(actual[..4], Is.EqualTo(expected[..4]), $"{what}: ID and flags");
                Assert.That(RawQuery.QuestionSection(actual), Is.EqualTo(RawQuery.QuestionSection(expected)), $"{what}: question");
                Assert.That(a.EDnsOptions?.ToString(), Is.EqualTo(e.EDnsOptions?.ToString()), $"{what}: OPT");
            });
            return;
        }
        Assert.Multiple(() =>
        {
            Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
            Assert.That(actual[..4], Is.EqualTo(expected[..4]), $"{what}: ID and flags");
            Assert.That(RawQuery.QuestionSection(actual), Is.EqualTo(RawQuery.QuestionSection(expected)), $"{what}: question");
            Assert.That(a.ReturnCode, Is.EqualTo(e.ReturnCode), $"{what}: RCODE");
            Assert.That(Texts(a.AnswerRecords), Is.EqualTo(Texts(e.AnswerRecords)), $"{what}: answers");
            // PTRs are not shuffled: the fast path must keep the responder's order.
            Assert.That(a.AnswerRecords.OfType<PtrRecord>().Select(r => r.ToString()), Is.EqualTo(e.AnswerRecords.OfType<PtrRecord>().Select(r => r.ToString())), $"{what}: PTR order");
            Assert.That(a.AuthorityRecords.Select(r => r.ToString()), Is.EqualTo(e.AuthorityRecords.Select(r => r.ToString())), $"{what}: authority");
            Assert.That(Texts(a.AdditionalRecords), Is.EqualTo(Texts(e.AdditionalRecords)), $"{what}: additional");
            Assert.That(a.EDnsOptions?.ToString(), Is.EqualTo(e.EDnsOptions?.ToString()), $"{what}: OPT");
        });
    }

    private static string[] Texts(IEnumerable<DnsRecordBase> records) => [.. records.Select(r => r.ToString()).Order(StringComparer.Ordinal)];
}
