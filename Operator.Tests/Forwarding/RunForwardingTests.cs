using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Tests.Cli;
using MiniLb.Operator.Tests.Controllers;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary><c>minilb run</c> against the test API server: forwarding switched on and off by editing the MiniLbConfig.</summary>
public sealed class RunForwardingTests : OperatorFixture
{
    [Test]
    public async Task Editing_spec_forwarding_turns_forwarding_on_and_a_bad_upstream_is_reported_while_the_last_good_keeps_running()
    {
        await using var resolver = Upstreams.Resolver();
        var port = FreePort();
        await CreateConfigAsync(port: port);
        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--leader-election", "false");
        var query = RawQuery.Build("www.example.test", recursionDesired: true);
        var server = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port);
        async Task<DnsMessage?> AskAsync()
        {
            try
            {
                return await Upstreams.UdpFromAsync(System.Net.IPAddress.Loopback, server, query, TimeSpan.FromSeconds(2)) is { } raw ? DnsMessage.Parse(raw) : null;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return null; // not listening yet
            }
        }

        await WaitUntilAsync(async () => (await AskAsync())?.ReturnCode == ReturnCode.Refused, "refused while forwarding is off");
        await EditConfigAsync($$$"""{"forwarding":{"upstreams":["{{{resolver.EndPoint}}}"]}}""");
        await WaitUntilAsync(async () => await AskAsync() is { } reply && Upstreams.Addresses(reply).SequenceEqual(Upstreams.WwwAddresses), "forwarded after the edit");

        await EditConfigAsync($$$"""{"forwarding":{"upstreams":["{{{resolver.EndPoint}}}","router.lan"]}}""");
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Conditions?.Any(c => c.Message?.Contains("spec.forwarding.upstreams[1]: 'router.lan' is not an IP address[:port]") == true) == true,
            "the status names the bad field");
        Assert.That(Upstreams.Addresses((await AskAsync())!), Is.EqualTo(Upstreams.WwwAddresses), "the last good configuration keeps forwarding");

        await EditConfigAsync("""{"forwarding":null}""");
        await WaitUntilAsync(async () => (await AskAsync())?.ReturnCode == ReturnCode.Refused, "refused again once forwarding is removed");
    }
}
