using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary>
/// minilb as the LAN's DNS server: names outside its zone go to an upstream resolver for allowed clients only; its
/// own names, other clients and anything but a plain query are answered as without forwarding.
/// </summary>
public class ForwardingTests
{
    private static readonly IPAddress Client = IPAddress.Loopback, Stranger = IPAddress.Parse("127.0.0.2");

    private int asked;
    private TestDnsServer resolver = null!;
    private readonly ConcurrentQueue<ForwardResult> results = new();

    [SetUp]
    public void StartResolver()
    {
        asked = 0;
        results.Clear();
        resolver = Upstreams.Resolver(() => Interlocked.Increment(ref asked));
    }

    [TearDown]
    public async Task StopResolver() => await resolver.DisposeAsync();

    /// <summary>minilb serving the AmplificationTests zone (domain minilb), forwarding to <paramref name="upstreams"/>.</summary>
    private TestDnsServer Minilb(IPEndPoint[]? upstreams = null, string[]? allowFrom = null, TimeSpan? timeout = null, int maxInFlight = 100) =>
        TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions
        {
            Forwarding = new ForwardingSettings
            {
                Upstreams = upstreams ?? [resolver.EndPoint],
                AllowFrom = allowFrom is null ? ForwardingSettings.DefaultAllowFrom : [.. allowFrom.Select(IPNetwork.Parse)],
                Timeout = timeout ?? TimeSpan.FromSeconds(2),
                MaxInFlight = maxInFlight,
            },
            Forwarded = results.Enqueue,
        });

    [Test]
    public async Task An_outside_name_is_answered_by_the_upstream_over_UDP_and_TCP_with_the_clients_ID_and_question_RA_and_no_AA()
    {
        await using var minilb = Minilb();
        var query = RawQuery.Build("WwW.ExAmPlE.tEsT", id: 0x1234, recursionDesired: true, edns: new RawQuery.Edns());

        foreach (var (transport, raw) in new[] { ("UDP", await minilb.UdpAsync(query)), ("TCP", await minilb.TcpAsync(query)) })
        {
            Assert.That(raw, Is.Not.Null, transport);
            var reply = DnsMessage.Parse(raw!);
            Assert.That(reply.TransactionID, Is.EqualTo(0x1234), transport);
            Assert.That(raw!.AsSpan(12, query.Length - 12 - 11).SequenceEqual(query.AsSpan(12, query.Length - 12 - 11)), Is.True, $"{transport}: the question as asked (0x20 case)");
            Assert.That((reply.ReturnCode, reply.IsRecursionAllowed, reply.IsAuthoritiveAnswer, reply.IsRecursionDesired), Is.EqualTo((ReturnCode.NoError, true, false, true)), transport);
            Assert.That(Upstreams.Addresses(reply), Is.EqualTo(Upstreams.WwwAddresses), transport);
        }
        Assert.That(asked, Is.EqualTo(2), "the upstream answered both");
        Assert.That(results, Is.EqualTo(new[] { ForwardResult.Answered, ForwardResult.Answered }));
    }

    [Test]
    public async Task An_IPv6_client_on_the_allow_list_is_forwarded_too()
    {
        if (!System.Net.Sockets.Socket.OSSupportsIPv6)
            Assert.Ignore("IPv6 is turned off on this host");
        await using var minilb = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions
        {
            Forwarding = new ForwardingSettings { Upstreams = [resolver.EndPoint], AllowFrom = [IPNetwork.Parse("::1/128")] },
        }, listen: "[::1]:0");

        var reply = DnsMessage.Parse((await minilb.UdpAsync(RawQuery.Build("www.example.test", recursionDesired: true)))!);
        var overTcp = DnsMessage.Parse((await minilb.TcpAsync(RawQuery.Build("www.example.test", recursionDesired: true)))!);

        Assert.That(Upstreams.Addresses(reply), Is.EqualTo(Upstreams.WwwAddresses), "::1 is in ::1/128; the upstream is IPv4");
        Assert.That(Upstreams.Addresses(overTcp), Is.EqualTo(Upstreams.WwwAddresses));
    }

    [TestCase("web.default.minilb", ReturnCode.NoError)]
    [TestCase("nothing.default.minilb", ReturnCode.NxDomain)]
    [TestCase("minilb", ReturnCode.NoError)]
    public async Task Our_own_names_are_never_forwarded(string name, ReturnCode rcode)
    {
        await using var minilb = Minilb();

        foreach (var raw in new[] { await minilb.UdpAsync(RawQuery.Build(name, recursionDesired: true)), await minilb.TcpAsync(RawQuery.Build(name, recursionDesired: true)) })
        {
            var reply = DnsMessage.Parse(raw!);
            Assert.That((reply.ReturnCode, reply.IsAuthoritiveAnswer, reply.IsRecursionAllowed), Is.EqualTo((rcode, true, false)), "authoritative, as without forwarding");
        }
        Assert.That(asked, Is.Zero, "the upstream never heard of it");
    }

    [Test]
    public async Task A_client_outside_the_allow_list_is_refused_as_before_and_the_upstream_never_asked()
    {
        await using var minilb = Minilb(allowFrom: ["127.0.0.1/32"]);
        var query = RawQuery.Build("www.example.test", recursionDesired: true);

        var stranger = DnsMessage.Parse((await Upstreams.UdpFromAsync(Stranger, minilb.EndPoint, query))!);
        var allowed = DnsMessage.Parse((await Upstreams.UdpFromAsync(Client, minilb.EndPoint, query))!);

        Assert.That((stranger.ReturnCode, stranger.IsRecursionAllowed, stranger.AnswerRecords.Count), Is.EqualTo((ReturnCode.Refused, false, 0)), "127.0.0.2 is not in 127.0.0.1/32");
        Assert.That(Upstreams.Addresses(allowed), Is.EqualTo(Upstreams.WwwAddresses), "127.0.0.1 is");
        Assert.That(asked, Is.EqualTo(1));
        Assert.That(results, Is.EqualTo(new[] { ForwardResult.NotAllowed, ForwardResult.Answered }));
    }

    [Test]
    public async Task A_query_from_an_upstream_itself_is_refused_so_two_forwarders_cannot_loop()
    {
        await using var minilb = Minilb();

        var reply = DnsMessage.Parse((await Upstreams.UdpFromAsync(Upstreams.ResolverAddress, minilb.EndPoint, RawQuery.Build("www.example.test", recursionDesired: true)))!);

        Assert.That(reply.ReturnCode, Is.EqualTo(ReturnCode.Refused), "127.0.0.3 is in the allow-list, but it is the upstream");
        Assert.That(asked, Is.Zero);
    }

    [TestCase(RecordType.Axfr, 1, 0, "a zone transfer")]
    [TestCase(RecordType.A, 3, 0, "class CH")]
    [TestCase(RecordType.A, 1, 2, "opcode STATUS")]
    public async Task Only_standard_queries_of_class_IN_are_forwarded(RecordType type, int recordClass, int opcode, string what)
    {
        await using var minilb = Minilb();

        var reply = DnsMessage.Parse((await minilb.TcpAsync(RawQuery.Build("www.example.test", type, recordClass: (ushort)recordClass, opcode: opcode)))!);

        Assert.That(reply.ReturnCode, Is.AnyOf(ReturnCode.Refused, ReturnCode.NotImplemented), what);
        Assert.That(reply.IsRecursionAllowed, Is.False, what);
        Assert.That(asked, Is.Zero, what);
    }

    [Test]
    public async Task A_response_sent_to_minilb_is_not_forwarded()
    {
        await using var minilb = Minilb();

        var reply = await minilb.UdpAsync(RawQuery.Build("www.example.test", response: true), TimeSpan.FromSeconds(1));

        Assert.That(reply, Is.Null, "QR=1 gets nothing, as without forwarding");
        Assert.That(asked, Is.Zero);
    }

    [Test]
    public async Task An_answer_too_large_for_the_client_is_cut_to_its_size_with_TC_and_whole_over_TCP()
    {
        await using var minilb = Minilb();

        foreach (var (edns, limit) in new[] { ((RawQuery.Edns?)null, 512), (new RawQuery.Edns(Size: 1232), 1232), (new RawQuery.Edns(Size: 4096), 1232) })
        {
            var raw = await minilb.UdpAsync(RawQuery.Build("big.example.test", edns: edns, recursionDesired: true));
            Assert.That(raw!.Length, Is.LessThanOrEqualTo(limit), $"size {edns?.Size}");
            var reply = DnsMessage.Parse(raw);
            Assert.That((reply.IsTruncated, reply.IsRecursionAllowed, reply.IsAuthoritiveAnswer), Is.EqualTo((true, true, false)), $"size {edns?.Size}");
            Assert.That(reply.Questions.Single().Name.ToString(), Is.EqualTo("big.example.test."));
            Assert.That(reply.EDnsOptions is not null, Is.EqualTo(edns is not null), "an OPT record exactly when the query had one");
        }
        var overTcp = DnsMessage.Parse((await minilb.TcpAsync(RawQuery.Build("big.example.test", recursionDesired: true)))!);
        Assert.That(Upstreams.Addresses(overTcp), Is.EquivalentTo(Upstreams.BigAddresses), "the client's TCP retry gets every address");
    }

    [Test]
    public async Task A_silent_upstream_times_out_into_the_next_one_and_SERVFAIL_comes_when_all_fail()
    {
        using var silent = new Upstreams.Silent();
        var timeout = TimeSpan.FromMilliseconds(500);
        await using var failover = Minilb([silent.EndPoint, resolver.EndPoint], timeout: timeout);
        await using var allSilent = Minilb([silent.EndPoint, silent.EndPoint], timeout: timeout);
        var query = RawQuery.Build("www.example.test", recursionDesired: true);

        foreach (var transport in new[] { "UDP", "TCP" })
        {
            var clock = Stopwatch.StartNew();
            var answered = DnsMessage.Parse((transport == "UDP" ? await failover.UdpAsync(query) : await failover.TcpAsync(query))!);
            var afterOne = clock.Elapsed;
            clock.Restart();
            var failed = DnsMessage.Parse((transport == "UDP" ? await allSilent.UdpAsync(query) : await allSilent.TcpAsync(query))!);
            TestContext.Out.WriteLine($"{transport}: answer after {afterOne.TotalMilliseconds:F0} ms (one silent upstream), SERVFAIL after {clock.Elapsed.TotalMilliseconds:F0} ms (two), timeout {timeout.TotalMilliseconds} ms each");

            Assert.That(Upstreams.Addresses(answered), Is.EqualTo(Upstreams.WwwAddresses), $"{transport}: the second upstream answered");
            Assert.That(afterOne, Is.GreaterThanOrEqualTo(timeout - TimeSpan.FromMilliseconds(50)), $"{transport}: after the first one's timeout");
            Assert.That((failed.ReturnCode, failed.IsRecursionAllowed, failed.TransactionID), Is.EqualTo((ReturnCode.ServerFailure, true, 0x4d4c)), transport);
        }
        Assert.That(results.Count(r => r == ForwardResult.Failed), Is.EqualTo(2));
    }

    [Test]
    public async Task An_upstream_that_refuses_is_passed_over_and_its_refusal_relayed_only_when_no_other_answers()
    {
        // An authoritative server for another zone (minilb itself) refuses example.test; not on 127.0.0.1, the client's address.
        await using var refusing = TestDnsServer.Start(AmplificationTests.Zone(), listen: "127.0.0.6:0");
        await using var failover = Minilb([refusing.EndPoint, resolver.EndPoint]);
        await using var onlyRefusing = Minilb([refusing.EndPoint]);
        var query = RawQuery.Build("www.example.test", recursionDesired: true);

        var answered = DnsMessage.Parse((await failover.UdpAsync(query))!);
        var refused = DnsMessage.Parse((await onlyRefusing.UdpAsync(query))!);

        Assert.That(Upstreams.Addresses(answered), Is.EqualTo(Upstreams.WwwAddresses), "the second upstream answered");
        Assert.That((refused.ReturnCode, refused.IsRecursionAllowed), Is.EqualTo((ReturnCode.Refused, true)), "the upstream's own refusal, relayed");
    }

    [Test]
    public async Task An_upstream_that_is_down_is_passed_over_without_waiting_for_its_timeout()
    {
        // A timeout longer than the client waits: only passing over the dead upstream at once gets an answer in time.
        await using var minilb = Minilb([Upstreams.Down(), resolver.EndPoint], timeout: TimeSpan.FromSeconds(30));

        var reply = await minilb.UdpAsync(RawQuery.Build("www.example.test", recursionDesired: true), TimeSpan.FromSeconds(10));

        Assert.That(reply, Is.Not.Null, "ICMP port unreachable ends the wait for the first upstream");
        Assert.That(Upstreams.Addresses(DnsMessage.Parse(reply!)), Is.EqualTo(Upstreams.WwwAddresses));
    }

    [Test]
    public async Task Beyond_the_in_flight_limit_a_query_gets_SERVFAIL_at_once_and_is_counted()
    {
        using var silent = new Upstreams.Silent();
        await using var minilb = Minilb([silent.EndPoint], timeout: TimeSpan.FromSeconds(3), maxInFlight: 2);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        await socket.ConnectAsync(minilb.EndPoint);

        for (var id = 1; id <= 10; id++)
            await socket.SendAsync(RawQuery.Build($"q{id}.example.test", id: (ushort)id, recursionDesired: true));
        var early = new List<DnsMessage>();
        var buffer = new byte[4096];
        using (var beforeTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                while (early.Count < 10)
                    early.Add(DnsMessage.Parse(buffer[..await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, beforeTimeout.Token)]));
            }
            catch (OperationCanceledException)
            {
            }
        }

        Assert.That(early, Has.Count.EqualTo(8), "the 8 beyond the 2 in flight are answered before the upstream's timeout");
        Assert.That(early.Select(r => (r.ReturnCode, r.IsRecursionAllowed)), Is.All.EqualTo((ReturnCode.ServerFailure, true)));
        Assert.That(results.Count(r => r == ForwardResult.Overloaded), Is.EqualTo(8));
        Assert.That(minilb.Host.Forwarding!.MaxInFlight, Is.EqualTo(2));
    }

    [Test]
    public async Task Forwarding_can_be_turned_on_and_off_on_a_running_server()
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone());
        var query = RawQuery.Build("www.example.test", recursionDesired: true);

        var before = DnsMessage.Parse((await server.UdpAsync(query))!);
        server.Host.Forwarding = new ForwardingSettings { Upstreams = [resolver.EndPoint] };
        var on = DnsMessage.Parse((await server.UdpAsync(query))!);
        server.Host.Forwarding = null;
        var off = DnsMessage.Parse((await server.UdpAsync(query))!);

        Assert.That(before.ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That(Upstreams.Addresses(on), Is.EqualTo(Upstreams.WwwAddresses));
        Assert.That(off.ReturnCode, Is.EqualTo(ReturnCode.Refused), "a REFUSED the fast path learned earlier does not stop forwarding, nor does forwarding outlive its settings");
    }

    [Test]
    public void A_spoofed_answer_with_another_ID_or_question_is_not_taken()
    {
        var query = RawQuery.Build("www.example.test", id: 0x0102);
        var end = Forwarder.QuestionEnd(query);
        byte[] Answer(Action<byte[]> change)
        {
            var answer = query.ToArray();
            answer[2] |= 0x80;
            change(answer);
            return answer;
        }

        Assert.That(Forwarder.Matches(Answer(_ => { }), query, end), Is.True);
        Assert.That(Forwarder.Matches(Answer(a => a[13] = (byte)'W'), query, end), Is.True, "case may differ (RFC 4343)");
        Assert.That(Forwarder.Matches(Answer(a => a[1] ^= 1), query, end), Is.False, "another ID");
        Assert.That(Forwarder.Matches(Answer(a => a[14] = (byte)'x'), query, end), Is.False, "another name");
        Assert.That(Forwarder.Matches(Answer(a => BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(end - 4), 28)), query, end), Is.False, "another type");
        Assert.That(Forwarder.Matches(Answer(a => a[2] &= 0x7F), query, end), Is.False, "a query, not an answer");
        Assert.That(Forwarder.Matches(Answer(a => a[12] ^= 0x20), query, end), Is.False, "a label length is not a letter");
    }
}
