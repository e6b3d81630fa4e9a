using System.Diagnostics;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>
/// A real secondary from Debian: Knot DNS transfers minilb's zone (run mode against the test API server), gets
/// NOTIFY when a pod becomes ready, follows the change and answers the names itself.
/// </summary>
public sealed class KnotSecondaryTests : OperatorFixture
{
    [Test]
    public async Task Knot_transfers_the_zone_follows_a_new_pod_after_NOTIFY_and_answers_itself()
    {
        if (KnotSecondary.Binary is null)
            Assert.Ignore("knotd is not installed (Debian package knot): no real secondary to transfer to");
        var minilbPort = FreePort();
        var knotPort = FreePort();
        await CreateConfigAsync(port: minilbPort);
        await EditConfigAsync($$$"""{"transfer":{"allowFrom":["127.0.0.1/32"],"notify":["127.0.0.1:{{{knotPort}}}"]}}""");
        var minilb = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await AddressesAsync(minilbPort, "web.default.minilb") is ["10.244.0.5"], "minilb answers web");
        await WaitUntilAsync(() => Task.FromResult(minilb.Config.Host?.Transfers.Enabled == true), "spec.transfer is applied");

        using var knot = KnotSecondary.Start(knotPort, "minilb", minilbPort);
        try
        {
            await WaitUntilAsync(async () => await knot.AddressesAsync("web.default.minilb") is ["10.244.0.5"], "Knot transferred the zone and answers web itself");

            var clock = Stopwatch.StartNew();
            var acknowledged = minilb.Config.Host!.NotifiesAcknowledged;
            await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.1.9");
            await WaitUntilAsync(async () => await knot.AddressesAsync("web.default.minilb") is ["10.244.0.5", "10.244.1.9"],
                "Knot answers the new pod (NOTIFY, then a transfer)");
            TestContext.Out.WriteLine($"new ready pod → answered by Knot after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.That(minilb.Config.Host!.NotifiesAcknowledged, Is.GreaterThan(acknowledged), "Knot answered minilb's NOTIFY");
            Assert.That(knot.Log, Does.Contain("NOTIFY").IgnoreCase, "Knot logged the NOTIFY it got");
            Assert.That(Logs.All.Any(l => l.Contains("Zone transfer", StringComparison.Ordinal)), Is.True);
        }
        catch (AssertionException)
        {
            TestContext.Out.WriteLine("knotd log:\n" + knot.Log);
            throw;
        }
    }
}
