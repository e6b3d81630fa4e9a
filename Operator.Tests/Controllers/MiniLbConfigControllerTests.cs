using MiniLb.Operator.Resolution;
using k8s;
using k8s.Models;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Tests.Controllers;

public sealed class MiniLbConfigControllerTests : OperatorFixture
{
    [Test]
    public async Task Nodes_added_and_removed_are_reflected_in_the_routes()
    {
        await CreateConfigAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await StartOperatorAsync();
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.Count == 1, "one route");

        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-b", ["192.168.1.12"], ["10.244.1.0/24"]));
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.Count == 2, "a route for node-b");
        var status = (await ReadConfigAsync()).Status!;
        Assert.That(status.Routes!.Select(r => $"{r.Node} {r.PodCidr} {r.Via}"),
            Is.EqualTo(new[] { "node-a 10.244.0.0/24 192.168.1.11", "node-b 10.244.1.0/24 192.168.1.12" }));
        Assert.That(status.Router, Is.EqualTo(new[] { "ip route add 10.244.0.0/24 via 192.168.1.11", "ip route add 10.244.1.0/24 via 192.168.1.12" }));
        Assert.That(status.DhcpOption121, Is.EqualTo("dhcp-option=121,10.244.0.0/24,192.168.1.11,10.244.1.0/24,192.168.1.12"));
        Assert.That(ConditionOf((await ReadConfigAsync()), ConditionTypes.RoutesPublished)?.Status, Is.EqualTo(Condition.True));

        // A new InternalIP (a DHCP lease that changed): the kept route plan is made again from the Node.
        var moved = await Client.CoreV1.ReadNodeAsync("node-b");
        moved.Status.Addresses = [new V1NodeAddress { Type = "InternalIP", Address = "192.168.1.22" }];
        await Client.CoreV1.ReplaceNodeStatusAsync(moved, "node-b");
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Router?.Contains("ip route add 10.244.1.0/24 via 192.168.1.22") == true,
            "node-b's route via its new InternalIP");

        await Client.CoreV1.DeleteNodeAsync("node-a");
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.Select(r => r.Node).SequenceEqual(["node-b"]) == true, "node-a's route is gone");
        var changes = Logs.All.Where(l => l.Contains("Routes changed")).ToList();
        Assert.That(changes, Has.Count.GreaterThanOrEqualTo(3), "logged at start and on each change");
        Assert.That(changes[^1], Does.Contain(MiniLb.Operator.Routes.RouteFormats.RouterHeading).And.Contain("ip route add 10.244.1.0/24 via 192.168.1.22").And.Not.Contain("192.168.1.11"));
    }

    [Test]
    public async Task The_status_says_what_is_served_and_that_the_configuration_is_in_effect()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.0.6");

        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.ServedEndpoints == 2, "two served endpoints");
        var config = await ReadConfigAsync();
        Assert.Multiple(() =>
        {
            Assert.That(config.Status!.ServedServices, Is.EqualTo(1));
            Assert.That(config.Status.ObservedGeneration, Is.EqualTo(config.Metadata.Generation));
            Assert.That(ConditionOf(config, ConditionTypes.Ready)?.Status, Is.EqualTo(Condition.True));
            Assert.That(ConditionOf(config, ConditionTypes.DnsServing)?.Message, Does.Contain($"127.0.0.1:{DnsPort(minilb)}"));
            Assert.That(ReadinessOf(minilb).Healthy, Is.True);
        });
    }

    [Test]
    public async Task Another_MiniLbConfig_is_told_it_is_not_in_use()
    {
        await CreateConfigAsync();
        await CreateConfigAsync(name: "spare");
        await StartOperatorAsync();

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync("spare"), ConditionTypes.Ready)?.Reason == "NotInUse", "spare says NotInUse");
        Assert.That(ConditionOf(await ReadConfigAsync("spare"), ConditionTypes.Ready)!.Message, Does.Contain("'default'"));
    }

    [Test]
    public async Task Without_a_MiniLbConfig_the_operator_runs_on_the_defaults_and_says_so()
    {
        var minilb = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "served under the default domain");
        await WaitUntilAsync(async () => await AddressesAsync(DnsPort(minilb), "web.default.minilb") is ["10.244.0.5"], "DNS answers");
        Assert.That(ReadinessOf(minilb).Healthy, Is.True);
        Assert.That(ReadinessOf(minilb).Text("readyz", verbose: true), Does.Contain("[+]config-source ok, but: the defaults in force"));
    }

    [Test]
    public async Task Deleting_the_MiniLbConfig_falls_back_to_the_defaults()
    {
        await CreateConfigAsync(domain: "lan.example");
        var minilb = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.lan.example", "served under lan.example");

        await Client.CustomObjects.DeleteClusterCustomObjectAsync(MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural, "default");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "served under the default domain");
        Assert.That(ReadinessOf(minilb).Healthy, Is.True);
        Assert.That(ReadinessOf(minilb).Text("readyz", verbose: true), Does.Contain("[+]config-source ok, but: the defaults in force"));
    }

    [Test]
    public async Task ConfigSource_says_the_flags_keep_running_until_a_new_MiniLbConfig_applies_and_then_names_the_flags_it_overrides()
    {
        var taken = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var port = ((System.Net.IPEndPoint)taken.Client.LocalEndPoint!).Port;
        var minilb = await StartOperatorAsync(new OperatorOptions { Flags = [new GivenFlag("--ttl", "30", "spec.ttl")] });
        // The flags are in force first (no MiniLbConfig yet); then one arrives whose port is taken.
        await WaitUntilAsync(() => Task.FromResult(minilb.Config.Current is { Source: null }), "the flags in force");
        await CreateConfigAsync(port: port);

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)?.Reason == ConfigSource.Flags,
            "ConfigSource=False Flags while the MiniLbConfig's port is taken");
        var flags = ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)!;
        Assert.That(flags.Status, Is.EqualTo(Condition.False));
        Assert.That(flags.Message, Does.Contain("the flag --ttl 30 of `minilb run` is in force"));

        taken.Dispose();
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)?.Reason == ConfigSource.MiniLbConfig,
            "ConfigSource=True MiniLbConfig once the port is free");
        var config = ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)!;
        Assert.That(config.Status, Is.EqualTo(Condition.True));
        Assert.That(config.Message, Does.Contain("overrides these flags of `minilb run`: --ttl 30 (spec.ttl is 5)"));
    }

    [Test]
    public async Task ConfigSource_without_flags_says_so()
    {
        await CreateConfigAsync();
        await StartOperatorAsync();

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)?.Reason == ConfigSource.MiniLbConfig, "ConfigSource=True");
        Assert.That(ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)!.Message, Does.Contain("without configuration flags"));
    }

    [Test]
    public async Task Pod_addresses_outside_their_node_podCIDR_are_warned_about()
    {
        await CreateConfigAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        var slice = TestObjects.Slice("default", "web", "web-1", "IPv4", [TestObjects.Endpoint("172.16.5.9")]);
        slice.Endpoints[0].NodeName = "node-a";
        await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, "default");

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.RoutesPublished)?.Reason == "PodAddressesOutsidePodCIDRs",
            "RoutesPublished=False PodAddressesOutsidePodCIDRs");
        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "PodAddressesOutsidePodCIDRs" && e.Type == "Warning"), "a Warning event");
        Assert.That(ConditionOf(await ReadConfigAsync(), ConditionTypes.RoutesPublished)!.Message, Does.Contain("172.16.5.9").And.Contain("Calico"));

        // The pod moves into the node's podCIDR: the finding goes with the slice event, and the condition clears.
        var fixedSlice = await Client.DiscoveryV1.ReadNamespacedEndpointSliceAsync("web-1", "default");
        fixedSlice.Endpoints[0].Addresses = ["10.244.0.9"];
        await Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(fixedSlice, "web-1", "default");
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.RoutesPublished)?.Reason == "AllNodesRouted",
            "RoutesPublished=True AllNodesRouted once the pod address is inside the podCIDR");
    }

    [Test]
    public async Task More_routes_than_option_121_holds_are_cut_and_the_condition_says_which()
    {
        await CreateConfigAsync();
        for (var i = 0; i < 33; i++)
            await Client.CoreV1.CreateNodeAsync(TestObjects.Node($"node-{i:D2}", [$"192.0.2.{10 + i}"], [$"198.18.{i}.0/24"]));
        await StartOperatorAsync();

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.DhcpOption121Complete)?.Reason == "OptionTooLong",
            "DhcpOption121Complete=False OptionTooLong");
        var config = await ReadConfigAsync();
        Assert.That(config.Status!.Routes, Has.Count.EqualTo(33), "the router still gets every route");
        Assert.That(config.Status.DhcpOption121, Does.EndWith("198.18.30.0/24,192.0.2.40"), "31 routes and the default route fill 253 of 255 octets");
        Assert.That(ConditionOf(config, ConditionTypes.DhcpOption121Complete)!.Message, Does.Contain("2 of 33").And.Contain("node-31, node-32"));
        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "DhcpOption121TooLong" && e.Type == "Warning"), "a Warning event");
    }

    [Test]
    public void Preflight_ignores_hostNetwork_pods_and_not_ready_endpoints()
    {
        var node = TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]);
        var slice = TestObjects.Slice("default", "web", "web-1", "IPv4",
            [TestObjects.Endpoint("192.168.1.11"), TestObjects.Endpoint("172.16.0.1", ready: false), TestObjects.Endpoint("10.244.0.7"), TestObjects.Endpoint("172.16.0.2")]);
        foreach (var endpoint in slice.Endpoints)
            endpoint.NodeName = "node-a";

        var stray = PodNetworkPreflight.Check([SliceView.From(slice)], [node]);

        Assert.That(stray.Select(s => s.Address.ToString()), Is.EqualTo(new[] { "172.16.0.2" }));
    }
}
