using k8s;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>What a user sees of node liveness: DNS answers, the MiniLbConfig's routes and ROUTES column, the condition, events.</summary>
public sealed class NodeLivenessStatusTests : OperatorFixture
{
    [Test]
    public async Task A_silent_node_leaves_the_answers_and_the_status_events_and_column_say_so()
    {
        var probe = new FakeNodeProbe();
        var minilb = await ServingWebAsync(probe, 2);
        var port = DnsPort(minilb);
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.All(r => r.Reachability == Reachabilities.Reachable) == true, "both nodes probed");
        Assert.That((await ReadConfigAsync()).Status!.ReachableNodes, Is.EqualTo("2/2"));

        probe.Silent("192.0.2.12");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["198.18.0.5"], "node-b's pod leaves the answer");
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.ReachableNodes == "1/2", "ROUTES 1/2");
        var status = (await ReadConfigAsync()).Status!;
        var route = status.Routes!.Single(r => r.Node == "node-b");
        Assert.That(route.Reachability, Is.EqualTo(Reachabilities.Unreachable));
        Assert.That(route.Since, Is.Not.Null);
        Assert.That(Conditions.Find(status.Conditions, ConditionTypes.NodesReachable), Has.Property(nameof(Condition.Reason)).EqualTo("NodesUnreachable")
            .And.Property(nameof(Condition.Message)).Contains("node node-b (192.0.2.12) unreachable since"));
        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "NodeUnreachable" && e.Type == "Warning" && e.InvolvedObject.Name == "node-b"), "a Warning on the Node");
        Assert.That(Logs.All, Has.Some.Contains("Node node-b (192.0.2.12) is unreachable"));

        probe.Silent("192.0.2.12", false);
        await WaitUntilAsync(async () => (await AddressesAsync(port, "web.default.minilb"))?.Length == 2, "node-b's pod is answered again");
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.ReachableNodes == "2/2", "ROUTES 2/2");
        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "NodeReachable" && e.InvolvedObject.Name == "node-b"), "a Normal event on the Node");
    }

    [Test]
    public async Task Switched_off_in_the_spec_nothing_is_probed_and_the_status_says_so()
    {
        var probe = new FakeNodeProbe();
        await ServingWebAsync(probe, 1);
        await WaitUntilAsync(() => Task.FromResult(probe.Probes > 0), "node-a probed");

        await EditConfigAsync("""{"nodeLiveness":{"enabled":false}}""");
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.NodesReachable)?.Reason == "LivenessOff", "NodesReachable Unknown LivenessOff");
        var config = await ReadConfigAsync();
        Assert.That(config.Status!.Routes!.Single().Reachability, Is.EqualTo(Reachabilities.NotProbed));
        var probes = probe.Probes;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.That(probe.Probes, Is.EqualTo(probes));
    }

    /// <summary>Nodes node-a, node-b, … at 192.0.2.11, .12, … with one pod of Service web each (198.18.0.5, 198.18.1.5, …).</summary>
    private async Task<LoadBalancerOperator> ServingWebAsync(FakeNodeProbe probe, int nodes)
    {
        await CreateConfigAsync();
        var endpoints = new List<k8s.Models.V1Endpoint>();
        for (var i = 0; i < nodes; i++)
        {
            var name = $"node-{(char)('a' + i)}";
            await Client.CoreV1.CreateNodeAsync(TestObjects.Node(name, [$"192.0.2.{11 + i}"], [$"198.18.{i}.0/24"]));
            var endpoint = TestObjects.Endpoint($"198.18.{i}.5");
            endpoint.NodeName = name;
            endpoints.Add(endpoint);
        }
        var minilb = await StartOperatorAsync(new OperatorOptions { NodeProbe = probe });
        await CreateServiceAsync("default", "web");
        await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(TestObjects.Slice("default", "web", "web-1", "IPv4", endpoints), "default");
        return minilb;
    }

    [Test]
    public async Task The_schema_refuses_a_port_out_of_range_naming_the_field()
    {
        await CreateConfigAsync();
        var refused = Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => EditConfigAsync("""{"nodeLiveness":{"port":70000}}"""));
        Assert.That(refused!.Response.Content, Does.Contain("spec.nodeLiveness.port"));
    }
}
