using k8s;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Tests.Cluster;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Watches dropped, 410 Expired, API outages: DNS keeps answering the last known data, and everything converges
/// afterwards with no lost update.
/// </summary>
public sealed class ApiOutageTests : OperatorFixture
{
    /// <summary>
    /// The most requests an operator may make during an outage of <paramref name="length"/> without a tight loop:
    /// each informer backs off exponentially up to <see cref="Backoff.Max"/> (jitter only lengthens it), so it makes
    /// the attempts of the ramp, then at most one per Max, plus a few at the edges (the watch dropped as the outage
    /// starts, one in flight as it ends). Nothing else calls the API while nothing changes.
    /// </summary>
    private static long RequestBound(int informers, TimeSpan length)
    {
        var backoff = FastInformers.Reconnect;
        var ramp = (int)Math.Ceiling(Math.Log2(backoff.Max / backoff.Initial)) + 1;
        return informers * ((long)Math.Ceiling(length / backoff.Max) + ramp + 3);
    }

    [Test]
    public async Task Dropped_watches_resume_without_losing_a_change()
    {
        var (_, port) = await ServingWebAsync();

        Server.CloseWatches();
        await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.0.6");

        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5", "10.244.0.6"], "the change made as watches dropped");
    }

    [Test]
    public async Task Changes_missed_while_cut_off_arrive_through_a_relist_after_410_Expired()
    {
        var link = new ApiLink();
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync(link: link);
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "web");
        await CreateServiceAsync("default", "old");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await SetEndpointsAsync("default", "old", "10.244.0.9");
        await WaitUntilAsync(async () => await AddressesAsync(port, "old.default.minilb") is ["10.244.0.9"], "old answers");

        link.Cut = true;
        Server.CloseWatches();
        await SetEndpointsAsync("default", "web", "10.244.0.7");
        await DeleteServiceAsync("default", "old");
        await CreateServiceAsync("default", "new");
        await SetEndpointsAsync("default", "new", "10.244.0.8");
        // The operator's resourceVersions now predate the history: resuming gets 410 Expired.
        Server.CompactHistory();
        Assert.That(await AddressesAsync(port, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }), "cut off, DNS answers the last known data");

        link.Cut = false;

        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.7"]
            && await AddressesAsync(port, "new.default.minilb") is ["10.244.0.8"]
            && (await QueryAsync(port, "old.default.minilb"))?.ReturnCode == ARSoft.Tools.Net.Dns.ReturnCode.NxDomain,
            "the changes, the new Service and the deletion all arrive");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "new") == "new.default.minilb", "the new Service gets its hostname");
    }

    [TestCase(OutageMode.Refuse)]
    [TestCase(OutageMode.Hang)]
    public Task An_outage_of_a_few_seconds_keeps_DNS_answering_makes_few_requests_and_converges_afterwards(OutageMode mode) =>
        OutageAsync(TimeSpan.FromSeconds(5), mode);

    [Test]
    [Category("Slow")]
    public Task An_outage_of_60_seconds_keeps_DNS_answering_makes_few_requests_and_converges_afterwards() =>
        OutageAsync(TimeSpan.FromSeconds(60), OutageMode.Refuse);

    private async Task OutageAsync(TimeSpan length, OutageMode mode)
    {
        var (minilb, port) = await ServingWebAsync();
        var before = Server.Faults.RequestsInOutage;

        var starting = DateTime.UtcNow;
        await Server.OutageAsync(length, mode);
        var ends = DateTime.UtcNow + length;
        var startedIn = DateTime.UtcNow - starting;
        var queries = 0;
        while (DateTime.UtcNow < ends - TimeSpan.FromMilliseconds(500))
        {
            Assert.That(await AddressesAsync(port, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }), "DNS answers during the outage");
            queries++;
            await Task.Delay(250);
        }
        // The outage's requests are the operator's alone: the test calls the API only once it is over.
        if (mode == OutageMode.Refuse)
            await Server.WhenServingAsync().WaitAsync(length + Eventually);
        else if (ends + TimeSpan.FromMilliseconds(100) - DateTime.UtcNow is { Ticks: > 0 } rest)
            await Task.Delay(rest);
        var requests = Server.Faults.RequestsInOutage - before;
        var informers = minilb.Host.Informers.Count;
        var bound = RequestBound(informers, length);
        TestContext.Out.WriteLine($"{mode} outage of {length.TotalSeconds:0} s: {queries} DNS queries all answered; {requests} API requests "
            + $"from {informers} informers ({requests / length.TotalSeconds:F1}/s, {requests / (double)informers / length.TotalSeconds:F2}/s each); bound {bound}; "
            + $"the outage took {startedIn.TotalMilliseconds:0} ms to start");
        Assert.That(requests, Is.GreaterThan(0), "the outage's requests are counted");
        Assert.That(requests, Is.LessThanOrEqualTo(bound), "requests during the outage: no tight retry loop");

        await WaitUntilAsync(async () =>
        {
            try
            {
                await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.3.3");
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the API server is back", length + Eventually);

        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5", "10.244.3.3"], "the change after the outage");
        await CreateServiceAsync("default", "after");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "after") == "after.default.minilb", "status writes work again");
    }
}
