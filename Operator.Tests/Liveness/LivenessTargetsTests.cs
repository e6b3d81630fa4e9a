using System.Net;
using k8s.Models;
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
}
