using System.Net;
using ARSoft.Tools.Net;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>The node liveness state machine through its loop, with a fake clock and a fake probe; the zone it feeds is the real model.</summary>
public class NodeLivenessTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z");

    private FakeTimeProvider time = null!;
    private FakeNodeProbe probe = null!;
    private Dictionary<string, IPAddress> targets = null!;
    private NodeLivenessLoop loop = null!;
    private List<ReachabilityChange> changes = null!;
    private ClusterModel model = null!;

    [SetUp]
    public void SetUp()
    {
        time = new FakeTimeProvider(Start);
        probe = new FakeNodeProbe();
        targets = new() { ["node-a"] = IPAddress.Parse("192.0.2.11"), ["node-b"] = IPAddress.Parse("192.0.2.12") };
        loop = new NodeLivenessLoop(probe, NullLogger<NodeLivenessLoop>.Instance, time) { Targets = () => targets };
        changes = [];
        loop.Changed += c => changes.AddRange(c);
        model = new ClusterModel(new ZoneSettings(), time);
        foreach (var item in new object[]
        {
            Service("default", "web"),
            Slice("default", "web", "web-1", "IPv4", [On("node-a", "198.18.0.5"), On("node-b", "198.18.1.5")]),
            Service("default", "db"),
            Slice("default", "db", "db-1", "IPv4", [On("node-b", "198.18.1.9")]),
        })
            model.Upsert(item);
        loop.UnreachableChanged += model.SetUnreachableNodes;
    }

    private static V1Endpoint On(string node, string address)
    {
        var endpoint = Endpoint(address);
        endpoint.NodeName = node;
        return endpoint;
    }

    /// <summary>One probe round, one second later than the last.</summary>
    private async Task RoundAsync()
    {
        time.Advance(TimeSpan.FromSeconds(1));
        await loop.ProbeOnceAsync(CancellationToken.None);
    }

    private string[] Answer(string name) =>
        model.Publish().Find(DomainName.Parse(name)).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    [Test]
    public async Task A_node_silent_for_two_probes_in_a_row_leaves_the_answers_and_its_first_answer_brings_it_back()
    {
        await RoundAsync();
        probe.Silent("192.0.2.12");
        await RoundAsync();
        Assert.That(loop.States()["node-b"].Reachable, Is.True, "one silent probe is not enough");
        Assert.That(Answer("web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5", "198.18.1.5" }));

        await RoundAsync();
        Assert.That(changes.Single(), Is.EqualTo(new ReachabilityChange("node-b", IPAddress.Parse("192.0.2.12"), false, Start.AddSeconds(3), "no answer within 500 ms")));
        Assert.That(loop.States()["node-b"], Has.Property(nameof(NodeState.Reachability)).EqualTo(Reachabilities.Unreachable)
            .And.Property(nameof(NodeState.Since)).EqualTo(Start.AddSeconds(3)));
        Assert.That(Answer("web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5" }));

        probe.Silent("192.0.2.12", false);
        await RoundAsync();
        Assert.That(changes[^1], Has.Property(nameof(ReachabilityChange.Reachable)).True.And.Property(nameof(ReachabilityChange.At)).EqualTo(Start.AddSeconds(4)));
        Assert.That(Answer("web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5", "198.18.1.5" }));
    }

    [Test]
    public async Task A_flapping_node_that_answers_every_other_probe_stays_in_the_answers()
    {
        for (var i = 0; i < 10; i++)
        {
            probe.Silent("192.0.2.12", i % 2 == 0);
            await RoundAsync();
        }
        Assert.That(changes, Is.Empty);
        Assert.That(Answer("web.default.minilb"), Has.Length.EqualTo(2));
    }

    [Test]
    public async Task A_service_whose_every_endpoint_is_on_unreachable_nodes_keeps_them_fail_open()
    {
        probe.Silent("192.0.2.12");
        await RoundAsync();
        await RoundAsync();

        Assert.That(loop.States()["node-b"].Reachable, Is.False);
        Assert.That(Answer("db.default.minilb"), Is.EqualTo(new[] { "198.18.1.9" }), "db would be left with no address");
    }

    [Test]
    public async Task With_every_node_dead_every_service_still_answers()
    {
        probe.Silent("192.0.2.11");
        probe.Silent("192.0.2.12");
        await RoundAsync();
        await RoundAsync();

        Assert.That(changes.Select(c => c.Node), Is.EquivalentTo(new[] { "node-a", "node-b" }));
        Assert.That(Answer("web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5", "198.18.1.5" }), "a partition on minilb's side must not blank the zone");
        Assert.That(Answer("db.default.minilb"), Is.EqualTo(new[] { "198.18.1.9" }));
    }

    [Test]
    public async Task A_node_deleted_while_unreachable_is_forgotten_and_not_probed()
    {
        probe.Silent("192.0.2.12");
        await RoundAsync();
        await RoundAsync();
        var before = probe.Probes;

        targets.Remove("node-b");
        await RoundAsync();

        Assert.That(loop.States().Keys, Is.EqualTo(new[] { "node-a" }));
        Assert.That(changes[^1], Has.Property(nameof(ReachabilityChange.Node)).EqualTo("node-b").And.Property(nameof(ReachabilityChange.Reachable)).True);
        Assert.That(probe.Probes - before, Is.EqualTo(1), "only node-a is probed");
        Assert.That(Answer("web.default.minilb"), Has.Length.EqualTo(2), "no stale entry keeps its endpoints out if it comes back");
    }

    [Test]
    public async Task A_node_added_starts_reachable_and_needs_its_own_silent_probes_to_leave()
    {
        await RoundAsync();
        targets["node-c"] = IPAddress.Parse("192.0.2.13");
        probe.Silent("192.0.2.13");
        await RoundAsync();

        Assert.That(loop.States()["node-c"], Has.Property(nameof(NodeState.Reachable)).True.And.Property(nameof(NodeState.SilentInARow)).EqualTo(1));
        await RoundAsync();
        Assert.That(loop.States()["node-c"].Reachable, Is.False);
        Assert.That(changes.Select(c => c.Node), Is.EqualTo(new[] { "node-c" }));
    }

    [Test]
    public async Task Switched_off_every_node_is_answered_again_and_nothing_is_probed()
    {
        probe.Silent("192.0.2.12");
        await RoundAsync();
        await RoundAsync();
        loop.Settings = LivenessSettings.From(new NodeLivenessSpec { Enabled = false });
        var before = probe.Probes;

        await RoundAsync();

        Assert.That(probe.Probes, Is.EqualTo(before));
        Assert.That(changes[^1].Detail, Is.EqualTo("node liveness is off"));
        Assert.That(Answer("web.default.minilb"), Has.Length.EqualTo(2));
    }

    [Test]
    public async Task More_failures_configured_take_more_silent_probes()
    {
        loop.Settings = LivenessSettings.From(new NodeLivenessSpec { Failures = 4 });
        probe.Silent("192.0.2.12");
        for (var i = 0; i < 3; i++)
            await RoundAsync();
        Assert.That(changes, Is.Empty);
        await RoundAsync();
        Assert.That(changes.Single().Node, Is.EqualTo("node-b"));
    }

    [Test]
    public async Task A_replica_that_does_not_lead_also_leaves_out_what_the_leader_published()
    {
        await RoundAsync();
        loop.SetPublished(new HashSet<string> { "node-b" }, follow: true);
        Assert.That(Answer("web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5" }), "the leader found node-b dead; this replica agrees at once");

        loop.SetPublished(new HashSet<string> { "node-b" }, follow: false);
        Assert.That(Answer("web.default.minilb"), Has.Length.EqualTo(2), "the leader goes by its own probes, which reach node-b");
    }

    [Test]
    public void The_defaults_take_a_dead_node_out_within_three_seconds()
    {
        var defaults = LivenessSettings.Default;
        Assert.That(defaults, Is.EqualTo(new LivenessSettings(true, 10250, TimeSpan.FromSeconds(1), 2)));
        // The held connection's last answer just before the death; its keepalive gives up 2 × 1 s later, after two
        // unanswered keepalive probes (the two failures); the next round, at most 1 s on, takes the node out.
        Assert.That(defaults.Detection, Is.EqualTo(TimeSpan.FromSeconds(3)));
    }
}
