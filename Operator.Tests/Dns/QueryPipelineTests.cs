using System.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>The query pipeline without sockets: what a message handed over by a transport comes back as.</summary>
public class QueryPipelineTests
{
    private const int Pods = 5000;

    private static readonly Lazy<Zone> LargeService = new(() =>
    {
        // Dual-stack pods behind one Service with a named port: every answer about it is past 65,535 bytes uncut.
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "big"));
        model.Upsert(Slice("default", "big", "big-v4", "IPv4", Ready([.. Enumerable.Range(0, Pods).Select(i => $"10.{i / 250}.{i % 250}.1")])));
        model.Upsert(Slice("default", "big", "big-v6", "IPv6", Ready([.. Enumerable.Range(0, Pods).Select(i => $"fd00::{i:x}")])));
        return model.Publish();
    });

    /// <summary>A question of every type that has answer data, about the large Service.</summary>
    public static readonly object[] EveryRecordType =
    [
        new object[] { "big.default.minilb", RecordType.A },
        new object[] { "big.default.minilb", RecordType.Aaaa },
        new object[] { "_http._tcp.big.default.minilb", RecordType.Srv },
        new object[] { "big.default.minilb", RecordType.Any },
    ];

    private static QueryPipeline Pipeline(Zone zone, DnsHostOptions? options = null, List<(RecordType, ReturnCode, TransportProtocol)>? metrics = null) =>
        new(new ZoneHolder(zone), new Responder(), (options ?? new DnsHostOptions()) with
        {
            Answered = metrics is null ? null : (type, rcode, transport, _) => metrics.Add((type, rcode, transport)),
        }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    private static DnsMessage? Ask(QueryPipeline pipeline, byte[] query, TransportProtocol transport)
    {
        var output = new byte[QueryPipeline.OutputSize];
        var length = pipeline.Answer(query, output, transport, new IPEndPoint(IPAddress.Loopback, 5353).Serialize());
        return length == 0 ? null : DnsMessage.Parse(output[..length]);
    }

    [TestCaseSource(nameof(EveryRecordType))]
    public void Over_TCP_an_answer_past_the_TCP_limit_is_cut_to_fit_never_SERVFAIL(string name, RecordType type)
    {
        var pipeline = Pipeline(LargeService.Value);
        var output = new byte[QueryPipeline.OutputSize];

        var length = pipeline.Answer(RawQuery.Build(name, type), output, TransportProtocol.Tcp);

        Assert.That(length, Is.InRange(1, QueryPipeline.MaxTcpMessage));
        var answer = DnsMessage.Parse(output[..length]);
        Assert.That(answer.ReturnCode, Is.EqualTo(ReturnCode.NoError), "a name that exists");
        Assert.That(answer.IsAuthoritiveAnswer, Is.True);
        Assert.That(answer.IsTruncated, Is.False, "over TCP the answer is capped as A answers are, not truncated");
        Assert.That(answer.AnswerRecords, Has.Count.GreaterThan(500), "most of what fits");
        Assert.That(answer.AnswerRecords.Select(r => r.RecordType).Distinct(), Has.Exactly(1).Items, "one RRset");
        if (type != RecordType.Any)
            Assert.That(answer.AnswerRecords, Has.All.Matches<DnsRecordBase>(r => r.RecordType == type));
    }

    [Test]
    public void Over_TCP_additional_records_go_first()
    {
        var answer = Ask(Pipeline(LargeService.Value), RawQuery.Build("_http._tcp.big.default.minilb", RecordType.Srv), TransportProtocol.Tcp)!;

        Assert.That(answer.AdditionalRecords, Is.Empty, "the targets' addresses went so that more SRV records fit");
        Assert.That(answer.AnswerRecords, Has.Count.EqualTo(Responder.MaxSrvAnswers), "then the answer fits whole, at the responder's cap");
    }

    [TestCaseSource(nameof(EveryRecordType))]
    public void Over_UDP_an_answer_that_does_not_fit_sets_TC_within_the_clients_size(string name, RecordType type)
    {
        var pipeline = Pipeline(LargeService.Value);
        var output = new byte[QueryPipeline.OutputSize];

        var length = pipeline.Answer(RawQuery.Build(name, type, edns: new RawQuery.Edns(Size: 1232)), output, TransportProtocol.Udp);

        Assert.That(length, Is.InRange(1, 1232));
        var answer = DnsMessage.Parse(output[..length]);
        Assert.That((answer.ReturnCode, answer.IsTruncated), Is.EqualTo((ReturnCode.NoError, true)));
    }

    [Test]
    public void Garbage_and_responses_get_nothing_and_an_unreadable_query_gets_FORMERR()
    {
        var pipeline = Pipeline(AmplificationTests.Zone());
        var unreadable = RawQuery.Build("web.default.minilb", id: 5).Concat(new byte[] { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 10 }).ToArray();
        unreadable[11] = 1; // ARCOUNT: an A record with 1 byte of address

        Assert.That(Ask(pipeline, [1, 2, 3], TransportProtocol.Udp), Is.Null);
        Assert.That(Ask(pipeline, RawQuery.Build("web.default.minilb", response: true), TransportProtocol.Tcp), Is.Null);
        var formErr = Ask(pipeline, unreadable, TransportProtocol.Udp)!;
        Assert.That((formErr.TransactionID, formErr.ReturnCode), Is.EqualTo(((ushort)5, ReturnCode.FormatError)));
    }

    [TestCase(TransportProtocol.Udp)]
    [TestCase(TransportProtocol.Tcp)]
    public void Either_transport_teaches_the_fast_path_which_then_answers_the_same(TransportProtocol transport)
    {
        var pipeline = Pipeline(AmplificationTests.Zone());
        var first = Ask(pipeline, RawQuery.Build("WEB.default.minilb", id: 1), transport)!;
        Assert.That(pipeline.PreparedAnswerCount, Is.EqualTo(1), "learned from the first answer");

        var replayed = Ask(pipeline, RawQuery.Build("web.DEFAULT.minilb", id: 2), transport)!;

        Assert.That(replayed.TransactionID, Is.EqualTo(2));
        Assert.That(replayed.Questions[0].Name.ToString(), Is.EqualTo("web.DEFAULT.minilb."), "the question as asked");
        Assert.That(replayed.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()).Order(),
            Is.EqualTo(first.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()).Order()));
    }

    [Test]
    public void Metrics_see_every_answer_with_its_type_code_and_transport()
    {
        var metrics = new List<(RecordType, ReturnCode, TransportProtocol)>();
        var pipeline = Pipeline(AmplificationTests.Zone(), metrics: metrics);

        Ask(pipeline, RawQuery.Build("web.default.minilb"), TransportProtocol.Udp);           // slow path
        Ask(pipeline, RawQuery.Build("web.default.minilb"), TransportProtocol.Udp);           // fast path
        Ask(pipeline, RawQuery.Build("nothing.default.minilb", RecordType.Aaaa), TransportProtocol.Tcp);
        Ask(pipeline, [1, 2, 3], TransportProtocol.Udp);                                       // not a query: not counted

        Assert.That(metrics, Is.EqualTo(new[]
        {
            (RecordType.A, ReturnCode.NoError, TransportProtocol.Udp),
            (RecordType.A, ReturnCode.NoError, TransportProtocol.Udp),
            (RecordType.Aaaa, ReturnCode.NxDomain, TransportProtocol.Tcp),
        }));
    }

    [Test]
    public void Over_its_rate_a_UDP_client_is_dropped_or_slipped_and_TCP_is_not_limited()
    {
        var pipeline = Pipeline(AmplificationTests.Zone(), new DnsHostOptions { RateLimit = new RateLimit(QueriesPerSecond: 1, Slip: 2), Time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider() });
        var query = RawQuery.Build("web.default.minilb");

        var udp = Enumerable.Range(0, 5).Select(_ => Ask(pipeline, query, TransportProtocol.Udp)).ToArray();
        var tcp = Enumerable.Range(0, 5).Select(_ => Ask(pipeline, query, TransportProtocol.Tcp)).ToArray();

        Assert.That(udp[0]!.AnswerRecords, Is.Not.Empty, "within the rate");
        Assert.That(udp.Skip(1).Count(a => a is null), Is.EqualTo(2), "dropped");
        Assert.That(udp.Skip(1).Where(a => a is not null), Has.All.Matches<DnsMessage>(a => a.IsTruncated && a.AnswerRecords.Count == 0), "slipped: TC=1, empty");
        Assert.That(tcp, Has.All.Matches<DnsMessage?>(a => a is { AnswerRecords.Count: > 0 }), "over TCP the source is real");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_replayed_answer_allocates_nothing_metrics_included(bool forwarding)
    {
        // Forwarding on changes nothing for our own names: the check for a refusal to forward reads one byte.
        var forward = forwarding ? new ForwardingSettings { Upstreams = [new IPEndPoint(IPAddress.Parse("192.0.2.53"), 53)] } : null;
        var pipeline = Pipeline(AmplificationTests.Zone(), new DnsHostOptions { Forwarding = forward }, metrics: null);
        // The metrics the binary serves (Prometheus counters and the response-time histogram), not a stand-in.
        var counted = new QueryPipeline(new ZoneHolder(AmplificationTests.Zone()), new Responder(),
            new DnsHostOptions { Answered = new MiniLb.Operator.Observability.Telemetry().DnsQueryAnswered, Forwarding = forward },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var output = new byte[QueryPipeline.OutputSize];
        byte[][] queries = [RawQuery.Build("web.default.minilb"), RawQuery.Build("web.default.minilb", RecordType.Aaaa, edns: new RawQuery.Edns())];
        foreach (var query in queries)
        {
            pipeline.Answer(query, output, TransportProtocol.Udp); // slow path, teaches the fast path
            counted.Answer(query, output, TransportProtocol.Tcp);  // and makes the metrics' label children
        }

        long Allocated()
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                foreach (var query in queries)
                {
                    pipeline.Answer(query, output, TransportProtocol.Udp);
                    counted.Answer(query, output, TransportProtocol.Tcp);
                }
            }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        var first = Allocated(); // one-time set-up inside the metrics library may still happen here
        var second = Allocated();

        TestContext.Out.WriteLine($"4,000 replayed answers allocated {first} bytes, the next 4,000 {second}");
        Assert.That(second, Is.Zero, "4,000 replayed answers: no garbage, so no collection can pause the receive loops");
    }

    private static readonly SocketAddress Lan = new IPEndPoint(IPAddress.Parse("192.168.1.20"), 40000).Serialize();
    private static readonly SocketAddress Internet = new IPEndPoint(IPAddress.Parse("203.0.113.5"), 40000).Serialize();

    private static QueryPipeline Forwarding(List<ForwardResult>? results = null) => new(new ZoneHolder(AmplificationTests.Zone()), new Responder(),
        new DnsHostOptions { Forwarding = new ForwardingSettings { Upstreams = [new IPEndPoint(IPAddress.Parse("192.168.1.1"), 53)] }, Forwarded = results is null ? null : results.Add },
        Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    [Test]
    public void With_forwarding_an_outside_name_from_the_LAN_is_a_forward_verdict_and_from_elsewhere_refused()
    {
        var results = new List<ForwardResult>();
        var pipeline = Forwarding(results);
        var output = new byte[QueryPipeline.OutputSize];
        var query = RawQuery.Build("www.example.org", recursionDesired: true);

        foreach (var transport in new[] { TransportProtocol.Udp, TransportProtocol.Tcp })
        {
            Assert.That(pipeline.Answer(query, output, transport, Lan), Is.EqualTo(QueryPipeline.Forward), $"{transport}: 192.168.1.20 is in the default allow-list");
            var refused = pipeline.Answer(query, output, transport, Internet);
            Assert.That(DnsMessage.Parse(output[..refused]).ReturnCode, Is.EqualTo(ReturnCode.Refused), $"{transport}: 203.0.113.5 is not");
        }
        Assert.That(pipeline.Answer(query, output, TransportProtocol.Udp, Lan), Is.EqualTo(QueryPipeline.Forward), "a refusal the fast path learned does not stop forwarding");
        Assert.That(results, Is.EqualTo(new[] { ForwardResult.NotAllowed, ForwardResult.NotAllowed }));
        var own = pipeline.Answer(RawQuery.Build("web.default.minilb"), output, TransportProtocol.Udp, Lan);
        Assert.That(DnsMessage.Parse(output[..own]).IsAuthoritiveAnswer, Is.True, "our own names are answered, never forwarded");
    }

    /// <summary>What an upstream might send back: its own ID, the name lower-cased, AA=1, <paramref name="addresses"/> A records.</summary>
    private static byte[] UpstreamAnswer(byte[] query, int addresses)
    {
        var message = DnsMessage.Parse(query);
        var answer = message.CreateResponseInstance();
        answer.TransactionID = 0x7777;
        answer.Questions.Clear();
        answer.Questions.Add(new DnsQuestion(ARSoft.Tools.Net.DomainName.Parse(message.Questions[0].Name.ToString().ToLowerInvariant()), RecordType.A, RecordClass.INet));
        answer.IsAuthoritiveAnswer = true;
        answer.AnswerRecords.AddRange(Enumerable.Range(0, addresses).Select(i => new ARecord(answer.Questions[0].Name, 60, IPAddress.Parse($"198.18.{i / 250}.{i % 250}"))));
        var bytes = new byte[QueryPipeline.OutputSize];
        var (length, _) = AnswerSize.Fit(answer, bytes, QueryPipeline.MaxTcpMessage, TransportProtocol.Tcp); // ARSoft's writer
        return bytes[..length];
    }

    [Test]
    public void A_relayed_answer_carries_the_clients_ID_and_question_RA_and_no_AA()
    {
        var pipeline = Forwarding();
        var query = RawQuery.Build("WwW.ExAmPlE.oRg", id: 0x1234, recursionDesired: true);
        var output = new byte[QueryPipeline.OutputSize];
        var upstream = UpstreamAnswer(query, 3);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(upstream.Length);
        upstream.CopyTo(buffer, 0);

        using var reply = new UpstreamReply(ForwardResult.Answered, buffer, upstream.Length);
        var answer = DnsMessage.Parse(output[..pipeline.Relay(query, reply, output, TransportProtocol.Udp)]);

        Assert.That(answer.TransactionID, Is.EqualTo(0x1234));
        Assert.That(answer.Questions.Single().Name.ToString(), Is.EqualTo("WwW.ExAmPlE.oRg."));
        Assert.That((answer.IsRecursionAllowed, answer.IsAuthoritiveAnswer, answer.AnswerRecords.Count), Is.EqualTo((true, false, 3)));
    }

    [TestCase(false, 512)]
    [TestCase(true, 1232)]
    public void A_relayed_answer_too_large_for_UDP_is_TC_within_the_clients_size(bool edns, int limit)
    {
        var pipeline = Forwarding();
        var query = RawQuery.Build("big.example.org", recursionDesired: true, edns: edns ? new RawQuery.Edns(Size: 4096, DnssecOk: true) : null);
        var output = new byte[QueryPipeline.OutputSize];
        var upstream = UpstreamAnswer(query, 200);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(upstream.Length);
        upstream.CopyTo(buffer, 0);

        using var reply = new UpstreamReply(ForwardResult.Answered, buffer, upstream.Length);
        var overUdp = pipeline.Relay(query, reply, output, TransportProtocol.Udp);
        var answer = DnsMessage.Parse(output[..overUdp]);
        var overTcp = DnsMessage.Parse(output[..pipeline.Relay(query, reply, output, TransportProtocol.Tcp)]);

        Assert.That(upstream.Length, Is.GreaterThan(3000));
        Assert.That(overUdp, Is.LessThanOrEqualTo(limit));
        Assert.That((answer.IsTruncated, answer.IsRecursionAllowed, answer.AnswerRecords.Count), Is.EqualTo((true, true, 0)));
        Assert.That(answer.EDnsOptions?.IsDnsSecOk, Is.EqualTo(edns ? true : null), "an OPT (DO copied) exactly when the query had one");
        Assert.That(overTcp.AnswerRecords, Has.Count.EqualTo(200), "over TCP it is whole");
    }

    [TestCase(ForwardResult.Failed)]
    [TestCase(ForwardResult.Overloaded)]
    public void No_answer_from_the_upstreams_is_SERVFAIL_with_RA(ForwardResult result)
    {
        var results = new List<ForwardResult>();
        var pipeline = Forwarding(results);
        var query = RawQuery.Build("www.example.org", id: 0x4242, recursionDesired: true);
        var output = new byte[QueryPipeline.OutputSize];

        var answer = DnsMessage.Parse(output[..pipeline.Relay(query, new UpstreamReply(result, null, 0), output, TransportProtocol.Udp)]);

        Assert.That((answer.ReturnCode, answer.IsRecursionAllowed, answer.TransactionID), Is.EqualTo((ReturnCode.ServerFailure, true, 0x4242)));
        Assert.That(results, Is.EqualTo(new[] { result }));
    }

    [Test]
    public void With_forwarding_the_names_of_the_internet_take_no_room_in_the_fast_path()
    {
        var pipeline = Forwarding();
        var output = new byte[QueryPipeline.OutputSize];
        pipeline.Answer(RawQuery.Build("web.default.minilb"), output, TransportProtocol.Udp, Lan);
        var ours = pipeline.PreparedAnswerCount;

        for (var i = 0; i < 500; i++)
        {
            Assert.That(pipeline.Answer(RawQuery.Build($"site{i}.example.org"), output, TransportProtocol.Udp, Lan), Is.EqualTo(QueryPipeline.Forward));
            pipeline.Answer(RawQuery.Build($"site{i}.example.org"), output, TransportProtocol.Udp, Internet);
        }

        Assert.That(ours, Is.EqualTo(1), "our own answer is learned");
        Assert.That(pipeline.PreparedAnswerCount, Is.EqualTo(ours), "500 outside names, forwarded or refused, learned none");
    }
}
