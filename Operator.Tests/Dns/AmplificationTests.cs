using System.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Tests.Forwarding;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>
/// Neither an open resolver nor an amplifier: what a spoofed query can make the server send. Run twice: as an
/// authoritative server alone, and forwarding names outside the zone for 127.0.0.1 only to an upstream on
/// 127.0.0.3 that answers example.test (www: 2 addresses, big: 300).
/// </summary>
[TestFixture(false)]
[TestFixture(true)]
public class AmplificationTests(bool forwarding)
{
    private static readonly string[] Names =
    [
        "web.default.minilb", "big.default.minilb", "dual.default.minilb", "_http._tcp.big.default.minilb", "minilb",
        "nothing.default.minilb", "example.com", "www.google.com", "www.example.test", "big.example.test",
        // The reverse zones of the nodes' podCIDRs: a PTR, an apex, a missing address, an empty non-terminal.
        "11.0.244.10.in-addr.arpa", "0.244.10.in-addr.arpa", "99.0.244.10.in-addr.arpa", "0.245.10.in-addr.arpa", "10.0.245.10.in-addr.arpa",
    ];

    private static readonly System.Net.IPAddress Stranger = IPAddress.Parse("127.0.0.2");

    private static readonly RecordType[] Types = [RecordType.A, RecordType.Aaaa, RecordType.Srv, RecordType.Any, RecordType.Ns, RecordType.Soa, RecordType.Txt, RecordType.Ptr];

    // No EDNS (null), sizes below the 512 floor, around it, around our 1232 ceiling, and far above.
    private static readonly int?[] Sizes = [null, 0, 1, 256, 511, 512, 513, 600, 700, 900, 1000, 1100, 1231, 1232, 1233, 1400, 1500, 4096, 65535];

    internal static readonly string[] WebAddresses = ["10.244.0.11", "10.244.1.12", "10.244.2.13"];
    internal static readonly string[] BigAddresses = [.. Enumerable.Range(0, 300).Select(i => $"10.244.{i / 200}.{i % 200 + 10}")];

    private TestDnsServer server = null!;
    private TestDnsServer? upstream;
    private int upstreamAsked;

    /// <summary>
    /// A small Service, a large one (300 addresses), a dual-stack one (150 + 150), NS glue, and the reverse zones of
    /// three nodes' podCIDRs (so every served address has a PTR).
    /// </summary>
    internal static MiniLb.Operator.Resolution.Zone Zone()
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.168.1.53")] });
        model.Upsert(Node("node-0", ["192.168.1.30"], ["10.244.0.0/24"]));
        model.Upsert(Node("node-1", ["192.168.1.31"], ["10.244.1.0/24"]));
        model.Upsert(Node("node-2", ["192.168.1.32"], ["10.245.0.0/16", "fd00:10:245::/64"]));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready(WebAddresses)));
        model.Upsert(Service("default", "big"));
        model.Upsert(Slice("default", "big", "big-1", "IPv4", Ready(BigAddresses)));
        model.Upsert(Service("default", "dual"));
        model.Upsert(Slice("default", "dual", "dual-4", "IPv4", Ready([.. Enumerable.Range(0, 150).Select(i => $"10.245.0.{i + 10}")])));
        model.Upsert(Slice("default", "dual", "dual-6", "IPv6", Ready([.. Enumerable.Range(0, 150).Select(i => $"fd00:10:245::{i + 10:x}")])));
        return model.Publish();
    }

    [OneTimeSetUp]
    public void Start()
    {
        upstream = forwarding ? Upstreams.Resolver(() => Interlocked.Increment(ref upstreamAsked)) : null;
        server = TestDnsServer.Start(Zone(), Options());
    }

    /// <summary>With forwarding: to the upstream, for 127.0.0.1 (the tests' client) only.</summary>
    private DnsHostOptions Options(DnsHostOptions? options = null) => (options ?? new DnsHostOptions()) with
    {
        Forwarding = upstream is null ? null : new ForwardingSettings { Upstreams = [upstream.EndPoint], AllowFrom = [IPNetwork.Parse("127.0.0.1/32")] },
    };

    /// <summary>Answered by the upstream (RA=1) rather than refused by minilb.</summary>
    private bool Forwarded(string name) => forwarding && !name.EndsWith("minilb", StringComparison.Ordinal) && !name.EndsWith(".arpa", StringComparison.Ordinal);

    [OneTimeTearDown]
    public async Task Stop()
    {
        await server.DisposeAsync();
        if (upstream is not null)
            await upstream.DisposeAsync();
    }

    [Test]
    public async Task No_UDP_reply_is_larger_than_the_client_allows()
    {
        var checkedReplies = 0;
        var (largest, ratio, worst) = (0, 0.0, "");
        var (forwardedLargest, forwardedRatio, forwardedWorst) = (0, 0.0, "");
        foreach (var name in Names)
        foreach (var type in Types)
        foreach (var size in Sizes)
        {
            var edns = size is { } s ? new RawQuery.Edns(Size: (ushort)Math.Min(s, ushort.MaxValue)) : null;
            var query = RawQuery.Build(name, type, edns: edns, recursionDesired: true);
            var raw = await server.UdpAsync(query);
            var what = $"{name} {type} with {(size is null ? "no EDNS" : $"EDNS size {size}")}";

            Assert.That(raw, Is.Not.Null, what);
            // RFC 6891 §6.2.5: sizes below 512 count as 512; we never send more than 1232 (DNS Flag Day 2020).
            var allowed = size is { } advertised ? Math.Clamp(advertised, 512, Responder.MaxUdpPayloadSize) : 512;
            Assert.That(raw!.Length, Is.LessThanOrEqualTo(allowed), what);
            Assert.That(DnsMessage.Parse(raw).IsRecursionAllowed, Is.EqualTo(Forwarded(name)), $"{what}: RA on forwarded answers only");
            checkedReplies++;
            if ((double)raw.Length / query.Length > ratio)
                (largest, ratio, worst) = (raw.Length, (double)raw.Length / query.Length, what);
            if (Forwarded(name) && (double)raw.Length / query.Length > forwardedRatio)
                (forwardedLargest, forwardedRatio, forwardedWorst) = (raw.Length, (double)raw.Length / query.Length, what);
        }
        TestContext.Out.WriteLine($"largest amplification{(forwarding ? " (forwarding)" : "")}: {ratio:F1}x ({largest} bytes) for {worst}");
        if (forwarding)
            TestContext.Out.WriteLine($"largest amplification of a forwarded answer: {forwardedRatio:F1}x ({forwardedLargest} bytes) for {forwardedWorst}");
        Assert.That(checkedReplies, Is.EqualTo(Names.Length * Types.Length * Sizes.Length));
    }

    [TestCase("example.com")]
    [TestCase("www.google.com")]
    [TestCase("in-addr.arpa")]
    [TestCase("minilb.com")]
    [TestCase("arpa")]
    [TestCase("www.example.test")]
    public async Task A_name_outside_the_zone_is_refused_over_both_transports_and_the_refusal_is_no_larger_than_the_query(string name)
    {
        // With forwarding, from a client outside the allow-list: for it nothing changes.
        var client = forwarding ? Stranger : IPAddress.Loopback;
        var asked = upstreamAsked;
        foreach (var edns in new RawQuery.Edns?[] { null, new(Size: 4096) })
        {
            var query = RawQuery.Build(name, RecordType.Any, edns: edns, recursionDesired: true);
            foreach (var (transport, raw) in new[] { ("UDP", await Upstreams.UdpFromAsync(client, server.EndPoint, query)), ("TCP", await Upstreams.TcpFromAsync(client, server.EndPoint, query)) })
            {
                Assert.That(raw, Is.Not.Null, transport);
                var reply = DnsMessage.Parse(raw!);
                Assert.That(reply.ReturnCode, Is.EqualTo(ReturnCode.Refused), transport);
                Assert.That((reply.IsRecursionAllowed, reply.IsAuthoritiveAnswer), Is.EqualTo((false, false)), transport);
                Assert.That(reply.AnswerRecords.Concat(reply.AuthorityRecords), Is.Empty, transport);
                Assert.That(raw!.Length, Is.LessThanOrEqualTo(query.Length), $"{transport}: a refusal amplifies nothing");
            }
        }
        Assert.That(upstreamAsked, Is.EqualTo(asked), "the upstream was never asked");
    }

    [TestCase("big.default.minilb")]
    [TestCase("dual.default.minilb")]
    [TestCase("minilb")]
    [TestCase("default.minilb")]
    public async Task ANY_over_UDP_is_one_RRset_within_512_bytes(string name)
    {
        var raw = await server.UdpAsync(RawQuery.Build(name, RecordType.Any));

        Assert.That(raw, Is.Not.Null);
        Assert.That(raw!.Length, Is.LessThanOrEqualTo(512));
        var reply = DnsMessage.Parse(raw);
        Assert.That(reply.AnswerRecords.Select(r => r.RecordType).Distinct().Count(), Is.LessThanOrEqualTo(1), "RFC 8482: one RRset");
        Assert.That(reply.AdditionalRecords, Is.Empty);
    }

    [Test]
    public async Task Over_the_rate_limit_a_client_gets_TC_replies_or_nothing_and_TCP_still_answers()
    {
        var time = new FakeTimeProvider(); // frozen: exactly one second's burst is available
        await using var limited = TestDnsServer.Start(Zone(), Options(new DnsHostOptions { Time = time, RateLimit = new RateLimit(QueriesPerSecond: 20, Slip: 2) }));
        var replies = await BurstAsync(limited.EndPoint, id => RawQuery.Build("big.default.minilb", id: id, edns: new RawQuery.Edns(Size: 1232)));

        var full = replies.Where(r => r.AnswerRecords.Count > 0).ToArray();
        var slipped = replies.Where(r => r.AnswerRecords.Count == 0).ToArray();
        Assert.That(full, Has.Length.EqualTo(20), "the burst is answered (TC=1 with part of the 300 addresses, as usual)");
        Assert.That(slipped, Has.Length.EqualTo(90), "every 2nd of the 180 over the limit");
        Assert.That(slipped.Select(r => (r.IsTruncated, r.IsQuery, r.Questions.Count, r.AdditionalRecords.Count)), Is.All.EqualTo((true, false, 1, 0)));
        Assert.That(limited.Host.RateLimiter!.Dropped, Is.EqualTo(90));

        var overTcp = DnsMessage.Parse((await limited.TcpAsync(RawQuery.Build("big.default.minilb")))!);
        Assert.That(overTcp.AnswerRecords, Has.Count.EqualTo(300), "TCP is never rate-limited: the source address is real");
    }

    [Test]
    public async Task Forwarded_answers_count_against_the_rate_limit_and_the_upstream_is_asked_only_for_those_answered()
    {
        if (!forwarding)
            Assert.Ignore("forwarding fixture only: without an upstream every outside name is refused");
        var time = new FakeTimeProvider();
        await using var limited = TestDnsServer.Start(Zone(), Options(new DnsHostOptions { Time = time, RateLimit = new RateLimit(QueriesPerSecond: 20, Slip: 2) }));
        var asked = upstreamAsked;

        var replies = await BurstAsync(limited.EndPoint, id => RawQuery.Build("www.example.test", id: id, recursionDesired: true));

        Assert.That(replies.Count(r => r.AnswerRecords.Count == 2 && r.IsRecursionAllowed), Is.EqualTo(20), "the burst is forwarded and answered");
        Assert.That(replies.Count(r => r.AnswerRecords.Count == 0 && r.IsTruncated), Is.EqualTo(90), "every 2nd of the 180 over the limit slips");
        Assert.That(upstreamAsked - asked, Is.EqualTo(20), "queries over the limit never reach the upstream");
    }

    /// <summary>200 queries from one UDP socket at once; the replies that come before 2 s of quiet.</summary>
    private static async Task<List<DnsMessage>> BurstAsync(IPEndPoint server, Func<ushort, byte[]> query)
    {
        using var socket = new System.Net.Sockets.Socket(server.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        await socket.ConnectAsync(server);
        for (var id = 1; id <= 200; id++)
            await socket.SendAsync(query((ushort)id));
        var replies = new List<DnsMessage>();
        var buffer = new byte[ushort.MaxValue];
        while (true)
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                replies.Add(DnsMessage.Parse(buffer[..await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, quiet.Token)]));
            }
            catch (OperationCanceledException)
            {
                return replies;
            }
        }
    }
}
