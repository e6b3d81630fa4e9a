using ARSoft.Tools.Net;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>The seam node liveness uses: endpoints on unreachable nodes leave the answers, but never all of a Service's.</summary>
public class UnreachableNodesTests
{
    private static ClusterModel Model()
    {
        var model = new ClusterModel(new ZoneSettings(), new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z")));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", [On("10.244.1.5", "node-a"), On("10.244.2.5", "node-b")]));
        model.Upsert(Service("default", "db"));
        model.Upsert(Slice("default", "db", "db-1", "IPv4", [On("10.244.1.9", "node-a")]));
        model.Upsert(Service("default", "cache"));
        model.Upsert(Slice("default", "cache", "cache-1", "IPv4", [On("10.244.2.7", "node-b")]));
        model.Publish();
        return model;
    }

    private static k8s.Models.V1Endpoint On(string address, string node)
    {
        var endpoint = Endpoint(address);
        endpoint.NodeName = node;
        return endpoint;
    }

    private static string[] V4(Zone zone, string name) =>
        zone.Find(DomainName.Parse(name)).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    [Test]
    public void Endpoints_on_an_unreachable_node_leave_their_Services_answers()
    {
        var model = Model();

        model.SetUnreachableNodes(new HashSet<string> { "node-a" });
        var zone = model.Publish();

        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.2.5" }));
        Assert.That(zone.Find(DomainName.Parse("10-244-1-5.web.default.minilb")).Status, Is.EqualTo(NameStatus.NotFound),
            "the endpoint's own name goes too");
        Assert.That(V4(zone, "cache.default.minilb"), Is.EqualTo(new[] { "10.244.2.7" }));
    }

    [Test]
    public void A_Service_with_every_endpoint_on_unreachable_nodes_keeps_answering_with_all_of_them()
    {
        var model = Model();

        model.SetUnreachableNodes(new HashSet<string> { "node-a", "node-b" });
        var zone = model.Publish();

        Assert.That(V4(zone, "db.default.minilb"), Is.EqualTo(new[] { "10.244.1.9" }), "fail open: no address is worse than a maybe-dead one");
        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.1.5", "10.244.2.5" }));
    }

    [Test]
    public void A_node_that_is_reachable_again_brings_its_endpoints_back()
    {
        var model = Model();
        model.SetUnreachableNodes(new HashSet<string> { "node-a" });
        model.Publish();

        model.SetUnreachableNodes(new HashSet<string>());
        var zone = model.Publish();

        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.1.5", "10.244.2.5" }));
    }

    [Test]
    public void Only_Services_with_endpoints_on_nodes_that_changed_are_rebuilt()
    {
        var model = Model();
        var before = model.Current;

        model.SetUnreachableNodes(new HashSet<string> { "node-c" });

        Assert.That(model.Publish(), Is.SameAs(before), "no Service has endpoints on node-c: same zone, same serial");
        model.SetUnreachableNodes(new HashSet<string> { "node-c" });
        Assert.That(model.Publish(), Is.SameAs(before), "an unchanged set changes nothing");
    }

    [Test]
    public void Endpoints_added_while_their_node_is_unreachable_are_left_out()
    {
        var model = Model();
        model.SetUnreachableNodes(new HashSet<string> { "node-b" });
        model.Publish();

        model.Upsert(Slice("default", "db", "db-1", "IPv4", [On("10.244.1.9", "node-a"), On("10.244.2.9", "node-b")]));
        var zone = model.Publish();

        Assert.That(V4(zone, "db.default.minilb"), Is.EqualTo(new[] { "10.244.1.9" }));
    }

    [Test]
    public void Served_counts_follow_what_is_published()
    {
        var model = Model();
        Assert.That((model.ServedCount, model.ServedEndpoints), Is.EqualTo((3, 4)));

        model.SetUnreachableNodes(new HashSet<string> { "node-a" });
        model.Publish();
        Assert.That((model.ServedCount, model.ServedEndpoints), Is.EqualTo((3, 3)), "web loses one; db keeps its only one (fail open)");

        model.Delete(Service("default", "cache"));
        model.Publish();
        Assert.That((model.ServedCount, model.ServedEndpoints), Is.EqualTo((2, 2)));
    }

    [Test]
    public void A_Service_served_while_a_node_is_unreachable_gets_that_nodes_endpoints_back_when_it_returns()
    {
        var model = Model();
        model.Upsert(Service("default", "late", type: "ClusterIP", loadBalancerClass: null));
        model.Upsert(Slice("default", "late", "late-1", "IPv4", [On("10.244.1.20", "node-a"), On("10.244.2.20", "node-b")]));
        model.SetUnreachableNodes(new HashSet<string> { "node-a" });
        model.Publish();

        model.Upsert(Service("default", "late"));
        Assert.That(V4(model.Publish(), "late.default.minilb"), Is.EqualTo(new[] { "10.244.2.20" }));

        model.SetUnreachableNodes(new HashSet<string>());
        Assert.That(V4(model.Publish(), "late.default.minilb"), Is.EqualTo(new[] { "10.244.1.20", "10.244.2.20" }));
    }
}
