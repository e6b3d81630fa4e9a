using System.Diagnostics;
using k8s;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>
/// Real secondaries from Debian — Knot DNS, and Unbound's auth-zone as docs/forwarding.md configures it — transfer
/// minilb's zone (run mode against the test API server), get NOTIFY when a pod becomes ready, follow the change and
/// answer the names themselves.
/// </summary>
public sealed class SecondaryServerTests : OperatorFixture
{
    [TestCase("knot")]
    [TestCase("unbound")]
    public async Task A_secondary_transfers_the_zone_follows_a_new_pod_after_NOTIFY_and_answers_itself(string server)
    {
        if (SecondaryServer.Binary(server) is null)
            Assert.Ignore($"{server} is not installed (Debian package {server}): no real secondary to transfer to");
        var minilbPort = FreePort();
        var secondaryPort = FreePort();
        await CreateConfigAsync(port: minilbPort);
        await EditConfigAsync($$$"""{"transfer":{"allowFrom":["127.0.0.1/32"],"notify":["127.0.0.1:{{{secondaryPort}}}"]}}""");
        var minilb = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await AddressesAsync(minilbPort, "web.default.minilb") is ["10.244.0.5"], "minilb answers web");
        await WaitUntilAsync(() => Task.FromResult(minilb.Config.Host?.Transfers.Enabled == true), "spec.transfer is applied");

        using var secondary = SecondaryServer.Start(server, secondaryPort, "minilb", minilbPort);
        try
        {
            await WaitUntilAsync(async () => await secondary.AddressesAsync("web.default.minilb") is ["10.244.0.5"], $"{server} transferred the zone and answers web itself");

            var clock = Stopwatch.StartNew();
            var acknowledged = minilb.Config.Host!.NotifiesAcknowledged;
            await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.1.9");
            await WaitUntilAsync(async () => await secondary.AddressesAsync("web.default.minilb") is ["10.244.0.5", "10.244.1.9"],
                $"{server} answers the new pod (NOTIFY, then a transfer)");
            TestContext.Out.WriteLine($"{server}: new ready pod → answered by the secondary after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.That(minilb.Config.Host!.NotifiesAcknowledged, Is.GreaterThan(acknowledged), $"{server} answered minilb's NOTIFY");
            Assert.That(secondary.Log, Does.Contain("NOTIFY").IgnoreCase, $"{server} logged the NOTIFY it got");
            Assert.That(Logs.All.Any(l => l.Contains("Zone transfer", StringComparison.Ordinal)), Is.True);
        }
        catch (AssertionException)
        {
            TestContext.Out.WriteLine($"{server} log:\n" + secondary.Log);
            throw;
        }
    }

    [TestCase("knot")]
    [TestCase("unbound")]
    public async Task A_secondary_holds_a_reverse_zone_too_and_answers_a_new_pods_PTR_itself(string server)
    {
        if (SecondaryServer.Binary(server) is null)
            Assert.Ignore($"{server} is not installed (Debian package {server}): no real secondary to transfer to");
        const string reverseZone = "0.244.10.in-addr.arpa";
        var minilbPort = FreePort();
        var secondaryPort = FreePort();
        await CreateConfigAsync(port: minilbPort);
        await EditConfigAsync($$$"""{"transfer":{"allowFrom":["127.0.0.1/32"],"notify":["127.0.0.1:{{{secondaryPort}}}"]}}""");
        var minilb = await StartOperatorAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await QueryAsync(minilbPort, "5." + reverseZone, ARSoft.Tools.Net.Dns.RecordType.Ptr) is { AnswerRecords.Count: 1 }, "minilb answers the PTR");
        await WaitUntilAsync(() => Task.FromResult(minilb.Config.Host?.Transfers.Enabled == true), "spec.transfer is applied");

        using var secondary = SecondaryServer.Start(server, secondaryPort, "minilb", minilbPort, reverseZone);
        try
        {
            await WaitUntilAsync(async () => await secondary.PointersAsync("10.244.0.5") is ["web.default.minilb."], $"{server} transferred {reverseZone} and answers kdig -x itself");

            var clock = Stopwatch.StartNew();
            await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.0.9");
            await WaitUntilAsync(async () => await secondary.PointersAsync("10.244.0.9") is ["web.default.minilb."], $"{server} answers the new pod's PTR (NOTIFY, then a transfer)");
            TestContext.Out.WriteLine($"{server}: new ready pod → its PTR answered by the secondary after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.That(await secondary.AddressesAsync("web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5", "10.244.0.9" }), "the forward zone alongside");
            Assert.That(secondary.Log, Does.Contain(reverseZone), $"{server} logged the reverse zone it holds");
        }
        catch (AssertionException)
        {
            TestContext.Out.WriteLine($"{server} log:\n" + secondary.Log);
            throw;
        }
    }
}
