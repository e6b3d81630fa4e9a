using ARSoft.Tools.Net;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>What a published zone says changed since the version before it: the names the fast path must forget.</summary>
public class ZoneChangeTests
{
    private static ClusterModel Model()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.244.0.0/24"]));
        model.Upsert(Service("default", "web", ports: new k8s.Models.V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11"), new k8s.Models.Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }));
        model.Upsert(Service("default", "api"));
        model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready("10.244.0.21")));
        model.Publish();
        return model;
    }

    private static string[] Names(ZoneChange change) => [.. change.Names.Select(n => n.ToString(false)).Order(StringComparer.Ordinal)];

    [Test]
    public void An_endpoint_change_lists_the_names_of_its_Service_and_the_PTR_owners_it_moves_and_nothing_else()
    {
        var model = Model();
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.12"), new k8s.Models.Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }));

        var change = model.Publish().Change;

        Assert.That(Names(change), Is.EquivalentTo(new[]
        {
            "web.default.minilb", "10-244-0-11.web.default.minilb", "10-244-0-12.web.default.minilb",
            "_http._tcp.web.default.minilb", "_tcp.web.default.minilb", // the SRV answer carries the new target
            "11.0.244.10.in-addr.arpa", "12.0.244.10.in-addr.arpa", "0.244.10.in-addr.arpa", "244.10.in-addr.arpa", "10.in-addr.arpa",
        }));
        Assert.That(change.BeyondNames, Is.False);
    }

    [Test]
    public void A_namespace_that_appears_is_listed_and_a_wildcard_reaches_beyond_the_names()
    {
        var model = Model();
        model.Upsert(Service("shop", "cart"));
        Assert.That(Names(model.Publish().Change), Does.Contain("shop.minilb"), "an empty non-terminal above the new Service");

        model.Upsert(Ingress("default", "shop", ["*.shop.example.com", "exact.example.com"], "api.default.minilb"));
        var change = model.Publish().Change;

        Assert.That(Names(change), Is.EqualTo(new[] { "exact.example.com" }));
        Assert.That(change.BeyondNames, Is.True, "the wildcard answers names nobody listed");
    }

    [Test]
    public void Versions_are_traced_back_through_several_changes_but_not_forever_nor_across_models()
    {
        var model = Model();
        var first = model.Current;
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.12")));
        model.Publish();
        model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready("10.244.0.22")));
        var third = model.Publish();

        var since = third.Change.Since(first.Change, out var beyond)!.Select(n => n.ToString(false)).ToArray();
        Assert.That(since, Does.Contain("web.default.minilb").And.Contain("api.default.minilb"), "both versions' names");
        Assert.That(beyond, Is.False);
        Assert.That(third.Change.Since(third.Change, out _), Is.Empty);
        Assert.That(third.Change.Since(new ClusterModel(new ZoneSettings()).Current.Change, out _), Is.Null, "another model's zone");

        for (var i = 0; i < 100; i++)
        {
            model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready($"10.244.0.{30 + i % 2}")));
            model.Publish();
        }
        Assert.That(model.Current.Change.Since(first.Change, out _), Is.Null, "a hundred versions back: no longer traced, the fast path starts afresh");
        Assert.That(model.Current.Change.Since(third.Change, out _), Is.Null);
    }

    [Test]
    public void An_unchanged_republish_keeps_the_zone_and_its_change()
    {
        var model = Model();
        var zone = model.Current;
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11"), new k8s.Models.Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }));

        Assert.That(model.Publish(), Is.SameAs(zone));
        model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready("10.244.0.22")));
        Assert.That(Names(model.Publish().Change), Does.Not.Contain("web.default.minilb"), "nothing of the earlier non-change leaks into the next one");
    }
}
