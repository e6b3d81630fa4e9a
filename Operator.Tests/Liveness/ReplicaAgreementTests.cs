using ARSoft.Tools.Net;
using k8s;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Liveness;

/// <summary>Two replicas: a node only the leader cannot reach leaves the follower's answers too, through the published status.</summary>
public sealed class ReplicaAgreementTests : OperatorFixture
{
    private static OperatorOptions Replica(string identity, FakeNodeProbe probe) => new()
    {
        NodeProbe = probe,
        Lease = new LeaseLeadershipOptions
        {
            Namespace = "default",
            Identity = identity,
            LeaseDuration = TimeSpan.FromSeconds(3),
            RenewDeadline = TimeSpan.FromSeconds(2),
            RetryPeriod = TimeSpan.FromMilliseconds(300),
        },
    };

    /// <summary>The replica's current zone, read directly: both replicas share one MiniLbConfig, so only one of them can bind its port here.</summary>
    private static string[] Answer(LoadBalancerOperator replica) =>
        replica.Zones.Current.Find(DomainName.Parse("web.default.minilb")).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    [Test]
    public async Task A_follower_leaves_out_a_node_the_leader_found_unreachable_and_takes_it_back_with_the_leader()
    {
        await CreateConfigAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.0.2.11"], ["198.18.0.0/24"]));
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-b", ["192.0.2.12"], ["198.18.1.0/24"]));
        var probes = new[] { new FakeNodeProbe(), new FakeNodeProbe() };
        var replicas = new[] { await StartOperatorAsync(Replica("replica-a", probes[0])), await StartOperatorAsync(Replica("replica-b", probes[1])) };
        await WaitUntilAsync(() => Task.FromResult(replicas[0].Leadership.IsLeader ^ replicas[1].Leadership.IsLeader), "exactly one leader");
        var leader = replicas[0].Leadership.IsLeader ? 0 : 1;
        var follower = 1 - leader;
        await CreateServiceAsync("default", "web");
        var slice = TestObjects.Slice("default", "web", "web-1", "IPv4", [TestObjects.Endpoint("198.18.0.5"), TestObjects.Endpoint("198.18.1.5")]);
        slice.Endpoints[0].NodeName = "node-a";
        slice.Endpoints[1].NodeName = "node-b";
        await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, "default");
        await WaitUntilAsync(() => Task.FromResult(Answer(replicas[follower]).Length == 2), "the follower answers both pods");

        probes[leader].Silent("192.0.2.12");
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.Any(r => r.Node == "node-b" && r.Reachability == Reachabilities.Unreachable) == true,
            "the leader publishes node-b as unreachable");
        await WaitUntilAsync(() => Task.FromResult(Answer(replicas[follower]) is ["198.18.0.5"]), "the follower, which still reaches node-b, agrees");
        Assert.That(replicas[follower].Liveness.States()["node-b"].Reachable, Is.True, "by the leader's word, not its own probe");

        probes[leader].Silent("192.0.2.12", false);
        await WaitUntilAsync(() => Task.FromResult(Answer(replicas[follower]).Length == 2), "the follower answers node-b's pod again");
    }
}
