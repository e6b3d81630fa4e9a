using System.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>Neither an open resolver nor an amplifier: what a spoofed query can make the server send.</summary>
public class AmplificationTests
{
    private static readonly string[] Names =
    [
        "web.default.minilb", "big.default.minilb", "dual.default.minilb", "_http._tcp.big.default.minilb", "minilb",
        "nothing.default.minilb", "example.com", "www.google.com",
    ];

    private static readonly RecordType[] Types = [RecordType.A, RecordType.Aaaa, RecordType.Srv, RecordType.Any, RecordType.Ns, RecordType.Soa, RecordType.Txt];

    // No EDNS (null), sizes below the 512 floor, around it, around our 1232 ceiling, and far above.
    private static readonly int?[] Sizes = [null, 0, 1, 256, 511, 512, 513, 600, 700, 900, 1000, 1100, 1231, 1232, 1233, 1400, 1500, 4096, 65535];

    internal static readonly string[] WebAddresses = ["10.244.0.11", "10.244.1.12", "10.244.2.13"];
    internal static readonly string[] BigAddresses = [.. Enumerable.Range(0, 300).Select(i => $"10.244.{i / 200}.{i % 200 + 10}")];

    private TestDnsServer server = null!;

    /// <summary>A small Service, a large one (300 addresses), a dual-stack one (150 + 150) and NS glue.</summary>
    internal static MiniLb.Operator.Resolution.Zone Zone()
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.168.1.53")] });
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
    public void Start() => server = TestDnsServer.Start(Zone());

    [OneTimeTearDown]
    public async Task Stop() => await server.DisposeAsync();

    [Test]
    public async Task No_UDP_reply_is_larger_than_the_client_allows()
    {
        var checkedReplies = 0;
        var (largest, ratio, worst) = (0, 0.0, "");
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
            Assert.That(DnsMessage.Parse(raw).IsRecursionAllowed, Is.False, what);
            checkedReplies++;
            if ((double)raw.Length / query.Length > ratio)
                (largest, ratio, worst) = (raw.Length, (double)raw.Length / query.Length, what);
        }
        TestContext.Out.WriteLine($"largest amplification: {ratio:F1}x ({largest} bytes) for {worst}");
        Assert.That(checkedReplies, Is.EqualTo(Names.Length * Types.Length * Sizes.Length));
    }

    [TestCase("example.com")]
    [TestCase("www.google.com")]
    [TestCase("in-addr.arpa")]
    [TestCase("minilb.com")]
    [TestCase("arpa")]
    public async Task A_name_outside_the_zone_is_refused_over_both_transports_and_the_refusal_is_no_larger_than_the_query(string name)
    {
        foreach (var edns in new RawQuery.Edns?[] { null, new(Size: 4096) })
        {
            var query = RawQuery.Build(name, RecordType.Any, edns: edns, recursionDesired: true);
            foreach (var (transport, raw) in new[] { ("UDP", await server.UdpAsync(query)), ("TCP", await server.TcpAsync(query)) })
            {
                Assert.That(raw, Is.Not.Null, transport);
                var reply = DnsMessage.Parse(raw!);
                Assert.That(reply.ReturnCode, Is.EqualTo(ReturnCode.Refused), transport);
                Assert.That((reply.IsRecursionAllowed, reply.IsAuthoritiveAnswer), Is.EqualTo((false, false)), transport);
                Assert.That(reply.AnswerRecords.Concat(reply.AuthorityRecords), Is.Empty, transport);
                Assert.That(raw!.Length, Is.LessThanOrEqualTo(query.Length), $"{transport}: a refusal amplifies nothing");
            }
        }
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
        await using var limited = TestDnsServer.Start(Zone(), new DnsHostOptions { Time = time, RateLimit = new RateLimit(QueriesPerSecond: 20, Slip: 2) });
        using var socket = new System.Net.Sockets.Socket(limited.EndPoint.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        await socket.ConnectAsync(limited.EndPoint);

        for (var id = 1; id <= 200; id++)
            await socket.SendAsync(RawQuery.Build("big.default.minilb", id: (ushort)id, edns: new RawQuery.Edns(Size: 1232)));
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
                break;
            }
        }

        var full = replies.Where(r => r.AnswerRecords.Count > 0).ToArray();
        var slipped = replies.Where(r => r.AnswerRecords.Count == 0).ToArray();
        Assert.That(full, Has.Length.EqualTo(20), "the burst is answered (TC=1 with part of the 300 addresses, as usual)");
        Assert.That(slipped, Has.Length.EqualTo(90), "every 2nd of the 180 over the limit");
        Assert.That(slipped.Select(r => (r.IsTruncated, r.IsQuery, r.Questions.Count, r.AdditionalRecords.Count)), Is.All.EqualTo((true, false, 1, 0)));
        Assert.That(limited.Host.RateLimiter!.Dropped, Is.EqualTo(90));

        var overTcp = DnsMessage.Parse((await limited.TcpAsync(RawQuery.Build("big.default.minilb")))!);
        Assert.That(overTcp.AnswerRecords, Has.Count.EqualTo(300), "TCP is never rate-limited: the source address is real");
    }
}
