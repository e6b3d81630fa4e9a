using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Tests.Cli;

namespace MiniLb.Operator.Tests.Snapshot;

/// <summary>
/// What a user of <c>make demo</c> sees of the sample snapshot's excluded Ingress, <c>minilb/serve</c> headless
/// Service and StatefulSet pods: <c>minilb serve</c> asked over UDP and TCP, as dig would.
/// </summary>
public sealed class SampleNamesTests
{
    private CliRun.Serving serve = null!;
    private DnsClient udp = null!, tcp = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        var port = await serve.PortAsync();
        udp = new DnsClient([IPAddress.Loopback], [new UdpClientTransport(port)], disposeTransport: true, queryTimeout: 5000);
        tcp = new DnsClient([IPAddress.Loopback], [new TcpClientTransport(port)], disposeTransport: true, queryTimeout: 5000);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        ((IDisposable)udp).Dispose();
        ((IDisposable)tcp).Dispose();
        await serve.DisposeAsync();
    }

    private async Task<DnsMessage> AskAsync(string name, RecordType type = RecordType.A, bool overTcp = false) =>
        await (overTcp ? tcp : udp).ResolveAsync(DomainName.Parse(name), type) ?? throw new AssertionException($"no answer for {name} {type}");

    private async Task<string[]> AddressesAsync(string name, RecordType type = RecordType.A) =>
        [.. (await AskAsync(name, type)).AnswerRecords.Select(r => r switch { ARecord a => a.Address.ToString(), AaaaRecord a => a.Address.ToString(), _ => r.ToString() })
            .Order(StringComparer.Ordinal)];

    [Test]
    public async Task The_excluded_public_Ingress_leaves_the_shared_host_to_the_internal_controller()
    {
        Assert.That(await AddressesAsync("shop.example.com"), Is.EqualTo(new[] { "10.244.0.70", "10.244.2.71" }));
        Assert.That(await AddressesAsync("ingress-public-controller.ingress-public.minilb"), Is.EqualTo(new[] { "10.244.1.90" }),
            "the public controller itself is still served");
        Assert.That(serve.Error.ToString(), Is.Empty, "the sample has nothing to report");
    }

    [Test]
    public async Task The_headless_Service_with_minilb_serve_answers_its_ready_pods_and_is_listed()
    {
        Assert.That(await AddressesAsync("db.default.minilb"), Is.EqualTo(new[] { "10.244.0.40", "10.244.1.41" }));
        await OperatorFixture.WaitUntilAsync(() => Task.FromResult(serve.Output.ToString().Contains("Press Ctrl-C")), "serve prints what it serves");
        Assert.That(serve.Output.ToString(), Does.Contain("\n  db.default.minilb\n"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task StatefulSet_pods_answer_by_hostname_and_SRV_points_at_those_names(bool overTcp)
    {
        var srv = await AskAsync("_postgres._tcp.db.default.minilb", RecordType.Srv, overTcp);
        Assert.That(srv.AnswerRecords.OfType<SrvRecord>().Select(s => $"{s.Port} {s.Target.ToString(false)}").Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "5432 db-0.db.default.minilb", "5432 db-1.db.default.minilb" }));

        for (var i = 0; i < 3; i++) // the first answer is the responder's, the others the fast path's
        {
            Assert.That(await AddressesAsync("db-0.db.default.minilb"), Is.EqualTo(new[] { "10.244.0.40" }));
            Assert.That(await AddressesAsync("DB-1.db.default.minilb"), Is.EqualTo(new[] { "10.244.1.41" }));
            Assert.That((await AskAsync("db-2.db.default.minilb")).ReturnCode, Is.EqualTo(ReturnCode.NxDomain), "db-2 is not ready");
            var nodata = await AskAsync("db-0.db.default.minilb", RecordType.Aaaa);
            Assert.That((nodata.ReturnCode, nodata.AnswerRecords.Count), Is.EqualTo((ReturnCode.NoError, 0)), "an IPv4-only pod has no AAAA: NODATA");
        }
    }
}
