using System.Net;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Controllers.Rules;

/// <summary>The MiniLbConfig controller's conditions and problems against fakes; MiniLbConfigControllerTests shows them end to end.</summary>
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class MiniLbConfigControllerRulesTests
{
    private readonly FakeConfigInForce config = new FakeConfigInForce().Apply("lan.example");
    private readonly FakeClusterFacts cluster = new();
    private readonly FakeStatusPatches status = new();
    private readonly RecordedEvents events = new();

    [SetUp]
    public void TwoNodes()
    {
        cluster.NodeList.Add(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        cluster.NodeList.Add(TestObjects.Node("node-b", ["192.168.1.12"], ["10.244.1.0/24"]));
        cluster.Served = new ServedCounts(3, 7);
    }

    [Test]
    public async Task The_config_in_use_reports_it_is_applied_listening_and_routed()
    {
        var written = await ReconcileAsync(Config());

        Assert.Multiple(() =>
        {
            Assert.That(Condition(written, ConditionTypes.Ready), Is.EqualTo("True Applied"));
            Assert.That(Condition(written, ConditionTypes.DnsServing), Is.EqualTo("True Listening"));
            Assert.That(Condition(written, ConditionTypes.RoutesPublished), Is.EqualTo("True AllNodesRouted"));
            Assert.That(Condition(written, ConditionTypes.NodesReachable), Is.EqualTo("Unknown LivenessOff"));
            Assert.That(written.Routes!.Select(r => $"{r.Node} {r.PodCidr} {r.Via} {r.Reachability}"),
                Is.EqualTo(new[] { "node-a 10.244.0.0/24 192.168.1.11 NotProbed", "node-b 10.244.1.0/24 192.168.1.12 NotProbed" }));
            Assert.That($"{written.ServedServices} {written.ServedEndpoints} {written.ObservedGeneration}", Is.EqualTo("3 7 1"));
            Assert.That(events.Problems, Is.Empty);
        });
    }

    [Test]
    public async Task Another_MiniLbConfig_is_told_it_is_not_in_use_and_nothing_else()
    {
        var written = await ReconcileAsync(Config("spare"));

        Assert.That(Condition(written, ConditionTypes.Ready), Is.EqualTo("False NotInUse"));
        Assert.That(written.Conditions!.Single().Message, Does.Contain("'default'"));
        Assert.That(written.Routes, Is.Null);
    }

    [Test]
    public async Task A_spec_that_cannot_apply_is_a_problem_until_a_later_generation_applies()
    {
        config.Problem = new ConfigProblem("ListenFailed", "listen 127.0.0.1:53: address already in use", 2);

        var written = await ReconcileAsync(Config(generation: 2));
        Assert.That(Condition(written, ConditionTypes.Ready), Is.EqualTo("False ListenFailed"));
        Assert.That(written.Conditions!.Single(c => c.Type == ConditionTypes.Ready).Message, Does.Contain("the last good configuration keeps running"));
        Assert.That(events.ProblemOf("default", "ConfigNotApplied"), Does.Contain("address already in use"));

        config.Problem = null;
        config.Apply("lan.example", generation: 3);
        written = await ReconcileAsync(Config(generation: 3));
        Assert.That(Condition(written, ConditionTypes.Ready), Is.EqualTo("True Applied"));
        Assert.That(events.ProblemOf("default", "ConfigNotApplied"), Is.Null, "fixed: a later break is published again");
    }

    [Test]
    public async Task A_node_without_a_podCIDR_is_named_in_RoutesPublished()
    {
        cluster.NodeList.Add(TestObjects.Node("node-c", ["192.168.1.13"], []));

        var written = await ReconcileAsync(Config());

        Assert.That(Condition(written, ConditionTypes.RoutesPublished), Is.EqualTo("False NodesWithoutRoute"));
        Assert.That(written.Conditions!.Single(c => c.Type == ConditionTypes.RoutesPublished).Message, Does.StartWith("node node-c: "));
        Assert.That(written.Routes, Has.Count.EqualTo(2), "the other nodes are still routed");
    }

    [Test]
    public async Task Pod_addresses_outside_their_nodes_podCIDR_are_a_condition_and_a_problem()
    {
        var slice = TestObjects.Slice("default", "web", "web-1", "IPv4", [TestObjects.Endpoint("172.16.5.9")]);
        slice.Endpoints[0].NodeName = "node-a";
        cluster.SliceList.Add(SliceView.From(slice));

        var written = await ReconcileAsync(Config());

        Assert.That(Condition(written, ConditionTypes.RoutesPublished), Is.EqualTo("False PodAddressesOutsidePodCIDRs"));
        Assert.That(events.ProblemOf("default", "PodAddressesOutsidePodCIDRs"), Does.Contain("172.16.5.9"));
    }

    [Test]
    public async Task An_unreachable_node_is_named_in_NodesReachable_and_its_route()
    {
        cluster.Liveness = LivenessSettings.Default with { Enabled = true };
        var since = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        cluster.States["node-a"] = new NodeState("node-a", IPAddress.Parse("192.168.1.11"), Reachable: true, since, 0);
        cluster.States["node-b"] = new NodeState("node-b", IPAddress.Parse("192.168.1.12"), Reachable: false, since, 3);

        var written = await ReconcileAsync(Config());

        Assert.That(Condition(written, ConditionTypes.NodesReachable), Is.EqualTo("False NodesUnreachable"));
        Assert.That(written.Conditions!.Single(c => c.Type == ConditionTypes.NodesReachable).Message,
            Does.StartWith("node node-b (192.168.1.12) unreachable since 2026-01-02T03:04:05Z"));
        Assert.That(written.Routes!.Select(r => r.Reachability), Is.EqualTo(new[] { Reachabilities.Reachable, Reachabilities.Unreachable }));
        Assert.That(written.ReachableNodes, Is.EqualTo("1/2"));
    }

    [Test]
    public async Task A_missing_permission_makes_Ready_false_while_DNS_keeps_serving()
    {
        cluster.Forbidden = "minilb may not patch services/status (403 Forbidden)";

        var written = await ReconcileAsync(Config());

        Assert.That(Condition(written, ConditionTypes.Ready), Is.EqualTo("False Forbidden"));
        Assert.That(Condition(written, ConditionTypes.DnsServing), Is.EqualTo("True Listening"));
    }

    [Test]
    public async Task A_deleted_MiniLbConfig_is_forgotten()
    {
        await Controller().DeletedAsync(Config(), CancellationToken.None);

        Assert.That(events.Forgotten, Is.EqualTo(new[] { "default" }));
    }

    private MiniLbConfigController Controller() =>
        new(config, cluster, status, events, new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));

    private async Task<MiniLbConfigStatus> ReconcileAsync(MiniLbConfig entity)
    {
        await Controller().ReconcileAsync(entity, CancellationToken.None);
        return status.Configs[entity.Metadata.Name];
    }

    private static MiniLbConfig Config(string name = MiniLbConfig.DefaultName, long generation = 1) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Generation = generation, Uid = $"uid-{name}" },
        Spec = new MiniLbConfigSpec { Domain = "lan.example" },
    };

    private static string? Condition(MiniLbConfigStatus status, string type) =>
        Conditions.Find(status.Conditions, type) is { } c ? $"{c.Status} {c.Reason}" : null;
}
