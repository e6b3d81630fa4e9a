using k8s;
using MiniLb.Operator.Tests.Cluster;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Watches dropped, 410 Expired, API outages: DNS keeps answering the last known data, and everything converges
/// afterwards with no lost update.
/// </summary>
public sealed class ApiOutageTests : OperatorFixture
{
    private async Task<int> ServingWebAsync()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "web answers");
        return port;
    }

    [Test]
    public async Task Dropped_watches_resume_without_losing_a_change()
    {
        var port = await ServingWebAsync();

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

    [Test]
    public Task An_outage_of_a_few_seconds_keeps_DNS_answering_and_converges_afterwards() => OutageAsync(TimeSpan.FromSeconds(5));

    [Test]
    [Category("Slow")]
    public Task An_outage_of_30_seconds_keeps_DNS_answering_and_converges_afterwards() => OutageAsync(TimeSpan.FromSeconds(30));

    private async Task OutageAsync(TimeSpan length)
    {
        var port = await ServingWebAsync();

        await Server.OutageAsync(length, OutageMode.Refuse);
        var ends = DateTime.UtcNow + length;
        while (DateTime.UtcNow < ends - TimeSpan.FromMilliseconds(500))
        {
            Assert.That(await AddressesAsync(port, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }), "DNS answers during the outage");
            await Task.Delay(250);
        }
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
