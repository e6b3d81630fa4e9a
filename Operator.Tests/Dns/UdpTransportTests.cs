using System.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Tests.Forwarding;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>The UDP receive loops: one shared socket or SO_REUSEPORT sockets, fast path on or off, all answer alike.</summary>
public class UdpTransportTests
{
    [TestCase(1, false, true)]
    [TestCase(3, false, true)]
    [TestCase(3, true, true)]
    [TestCase(2, true, false)]
    public async Task Every_loop_layout_answers_every_query(int loops, bool reusePort, bool fastPath)
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11", "10.244.1.12")));
        await using var server = TestDnsServer.Start(model.Publish(), new DnsHostOptions { UdpReceiveLoops = loops, UdpReusePort = reusePort, FastPath = fastPath });

        // Fresh sockets (new source ports) so that SO_REUSEPORT spreads the queries over the loops.
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => server.UdpAsync(RawQuery.Build("web.default.minilb", id: (ushort)i))));

        Assert.That(answers, Has.All.Not.Null, "every query answered");
        Assert.That(answers.Select(a => DnsMessage.Parse(a!).AnswerRecords.OfType<ARecord>().Select(r => r.Address).Order(Comparer<IPAddress>.Create((x, y) => string.CompareOrdinal(x.ToString(), y.ToString())))),
            Has.All.EqualTo(new[] { IPAddress.Parse("10.244.0.11"), IPAddress.Parse("10.244.1.12") }));
    }

    [Test]
    public async Task A_query_waiting_for_a_silent_upstream_does_not_hold_up_the_one_receive_loop()
    {
        using var silent = new Upstreams.Silent();
        await using var server = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions
        {
            UdpReceiveLoops = 1,
            Forwarding = new ForwardingSettings { Upstreams = [silent.EndPoint], Timeout = TimeSpan.FromSeconds(2) },
        });
        using var socket = new System.Net.Sockets.Socket(server.EndPoint.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        await socket.ConnectAsync(server.EndPoint);

        await socket.SendAsync(RawQuery.Build("www.example.test", id: 1, recursionDesired: true)); // forwarded, never answered upstream
        await socket.SendAsync(RawQuery.Build("web.default.minilb", id: 2));
        var buffer = new byte[4096];
        var first = DnsMessage.Parse(buffer[..await socket.ReceiveAsync(buffer)]);
        var second = DnsMessage.Parse(buffer[..await socket.ReceiveAsync(buffer)]);

        Assert.That((first.TransactionID, first.ReturnCode, first.IsAuthoritiveAnswer), Is.EqualTo((2, ReturnCode.NoError, true)), "our own name is answered while the forward waits");
        Assert.That((second.TransactionID, second.ReturnCode), Is.EqualTo((1, ReturnCode.ServerFailure)), "then the forward times out");
    }
}
