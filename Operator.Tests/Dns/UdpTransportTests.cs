using System.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
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
}
