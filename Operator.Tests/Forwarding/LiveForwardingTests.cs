using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary>Run mode: <c>spec.forwarding</c> of the MiniLbConfig is applied live, and a bad one keeps the last good.</summary>
public class LiveForwardingTests
{
    private static MiniLbConfig Config(long generation, ForwardingSpec? forwarding) =>
        new() { Metadata = new() { Name = "default", Generation = generation }, Spec = new MiniLbConfigSpec { Listen = "127.0.0.1:0", Forwarding = forwarding } };

    [Test]
    public async Task Forwarding_follows_the_MiniLbConfig_and_a_bad_spec_keeps_the_last_good_one()
    {
        await using var resolver = Upstreams.Resolver();
        var zones = new ZoneHolder(AmplificationTests.Zone());
        await using var live = new LiveConfig("default", zones, NullLoggerFactory.Instance, new MiniLbConfigSpec { Listen = "127.0.0.1:0" });
        live.Apply(null);
        var server = live.Host!.EndPoints[0];
        var query = RawQuery.Build("www.example.test", recursionDesired: true);
        async Task<DnsMessage> AskAsync() => DnsMessage.Parse((await Upstreams.UdpFromAsync(System.Net.IPAddress.Loopback, server, query))!);

        var before = await AskAsync();
        live.Apply(Config(2, new ForwardingSpec { Upstreams = [resolver.EndPoint.ToString()] }));
        var on = await AskAsync();
        live.Apply(Config(3, new ForwardingSpec { Upstreams = [resolver.EndPoint.ToString(), "router.lan"] }));
        var afterBadSpec = await AskAsync();
        var problem = live.Problem;
        live.Apply(Config(4, null));
        var off = await AskAsync();

        Assert.That(before.ReturnCode, Is.EqualTo(ReturnCode.Refused), "off by default");
        Assert.That(Upstreams.Addresses(on), Is.EqualTo(Upstreams.WwwAddresses), "on without a restart");
        Assert.That(problem, Is.EqualTo(new ConfigProblem("InvalidSpec", "spec.forwarding.upstreams[1]: 'router.lan' is not an IP address[:port] (for example 192.168.1.1, 192.168.1.1:5353 or [fd00::1]:53)", 3)));
        Assert.That(Upstreams.Addresses(afterBadSpec), Is.EqualTo(Upstreams.WwwAddresses), "the last good configuration keeps running");
        Assert.That(off.ReturnCode, Is.EqualTo(ReturnCode.Refused), "off again when the spec drops it");
        Assert.That(live.Host.EndPoints[0], Is.EqualTo(server), "the same listener all along");
    }
}
