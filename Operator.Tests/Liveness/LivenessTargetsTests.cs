using System.Net;
using k8s.Models;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Liveness;

public class LivenessTargetsTests
{
    private static V1EndpointSlice SliceOn(string service, params string[] nodes) =>
        Slice("default", service, service + "-1", "IPv4", nodes.Select((node, i) =>
        {
            var endpoint = Endpoint($"198.18.0.{i + 1}", ready: i % 2 == 0);
            endpoint.NodeName = node;
            return endpoint;
        }));

    [Test]
    public void Only_nodes_with_endpoints_of_served_services_are_probed_at_their_ipv4_internal_ip()
    {
        var targets = LivenessTargets.Of(
            [ServiceView.From(Service("default", "web")), ServiceView.From(Service("default", "other", loadBalancerClass: "metallb"))],
            [SliceView.From(SliceOn("web", "node-a", "node-b")), SliceView.From(SliceOn("other", "node-c"))],
            [
                Node("node-a", ["2001:db8::11", "192.0.2.11"], ["198.18.0.0/24"]),
                Node("node-b", ["2001:db8::12"], ["198.18.1.0/24"]),
                Node("node-c", ["192.0.2.13"], ["198.18.2.0/24"]),
                Node("node-d", ["192.0.2.14"], ["198.18.3.0/24"]),
            ],
            new ZoneSettings());

        Assert.That(targets, Is.EqualTo(new Dictionary<string, IPAddress>
        {
            ["node-a"] = IPAddress.Parse("192.0.2.11"),
            ["node-b"] = IPAddress.Parse("2001:db8::12"),
        }), "node-b has a not-ready endpoint only and an IPv6 InternalIP; node-c serves another class; node-d serves nothing");
    }

    [Test]
    public void A_node_without_an_internal_ip_or_without_a_node_object_is_not_probed()
    {
        var targets = LivenessTargets.Of([ServiceView.From(Service("default", "web"))], [SliceView.From(SliceOn("web", "node-a", "ghost"))], [Node("node-a", [], ["198.18.0.0/24"])], new ZoneSettings());
        Assert.That(targets, Is.Empty);
    }

    private static InformerEvent<T> Modified<T>(T old, T now) where T : class => new(InformerEventType.Modified, old, now);

    [Test]
    public void A_readiness_flip_leaves_the_targets_alone_but_an_endpoint_on_another_node_does_not()
    {
        var before = SliceView.From(SliceOn("web", "node-a", "node-b"));
        var flipped = SliceOn("web", "node-a", "node-b");
        flipped.Endpoints[0].Conditions.Ready = !flipped.Endpoints[0].Conditions.Ready;
        var moved = SliceView.From(SliceOn("web", "node-a", "node-c"));

        Assert.Multiple(() =>
        {
            Assert.That(LivenessTargets.MayChange(Modified(before, SliceView.From(flipped))), Is.False, "readiness flip");
            Assert.That(LivenessTargets.MayChange(Modified(before, moved)), Is.True, "an endpoint moved to node-c");
            Assert.That(LivenessTargets.MayChange(new InformerEvent<SliceView>(InformerEventType.Added, null, before)), Is.True, "added");
            Assert.That(LivenessTargets.MayChange(new InformerEvent<SliceView>(InformerEventType.Deleted, before, null)), Is.True, "deleted");
        });
    }

    [Test]
    public void A_service_edit_matters_only_when_it_starts_or_stops_being_served()
    {
        var settings = new ZoneSettings();
        var served = ServiceView.From(Service("default", "web"));
        var relabelled = ServiceView.From(Service("default", "web", hosts: "web.example.test"));
        var otherClass = ServiceView.From(Service("default", "web", loadBalancerClass: "metallb"));

        Assert.Multiple(() =>
        {
            Assert.That(LivenessTargets.MayChange(Modified(served, relabelled), settings), Is.False, "still served");
            Assert.That(LivenessTargets.MayChange(Modified(served, otherClass), settings), Is.True, "no longer minilb's");
        });
    }

    [Test]
    public void A_node_heartbeat_leaves_the_targets_alone_but_a_new_internal_ip_does_not()
    {
        var node = Node("node-a", ["192.0.2.11"], ["198.18.0.0/24"]);
        var heartbeat = Node("node-a", ["192.0.2.11"], ["198.18.0.0/24"]);
        heartbeat.Status.Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", LastHeartbeatTime = DateTime.UtcNow }];
        var readdressed = Node("node-a", ["192.0.2.21"], ["198.18.0.0/24"]);

        Assert.Multiple(() =>
        {
            Assert.That(LivenessTargets.MayChange(Modified(node, heartbeat)), Is.False, "heartbeat");
            Assert.That(LivenessTargets.MayChange(Modified(node, readdressed)), Is.True, "new InternalIP");
        });
    }
}
