using ARSoft.Tools.Net;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>The seam node liveness uses: endpoints on unreachable nodes leave the answers, never a Service's last one.</summary>
public class UnreachableNodesTests
{
    private static V1Endpoint On(string node, string address)
    {
        var endpoint = Endpoint(address);
        endpoint.NodeName = node;
        return endpoint;
    }

    private static ClusterModel Model() => WithObjects(new ClusterModel(new ZoneSettings(), new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z"))),
        Service("default", "web"),
        Slice("default", "web", "web-1", "IPv4", [On("node-a", "198.18.0.5"), On("node-b", "198.18.1.5")]),
        Service("default", "solo"),
        Slice("default", "solo", "solo-1", "IPv4", [On("node-b", "198.18.1.9")]));

    private static ClusterModel WithObjects(ClusterModel model, params object[] items)
    {
        foreach (var item in items)
            model.Upsert(item);
        model.Publish();
        return model;
    }

    private static string[] V4(Zone zone, string name) =>
        zone.Find(DomainName.Parse(name)).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    [Test]
    public void Endpoints_on_an_unreachable_node_leave_and_come_back()
    {
        var model = Model();
        model.SetUnreachableNodes(new HashSet<string> { "node-b" });
        var zone = model.Publish();
        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5" }));
        Assert.That(V4(zone, "solo.default.minilb"), Is.EqualTo(new[] { "198.18.1.9" }), "fail open: the only address stays");

        model.SetUnreachableNodes(new HashSet<string>());
        Assert.That(V4(model.Publish(), "web.default.minilb"), Is.EqualTo(new[] { "198.18.0.5", "198.18.1.5" }));
    }
}
