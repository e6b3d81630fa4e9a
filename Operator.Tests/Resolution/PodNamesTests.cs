using ARSoft.Tools.Net;
using k8s.Models;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>Per-pod names (<c>&lt;hostname&gt;.&lt;svc&gt;.&lt;ns&gt;.&lt;domain&gt;</c>) of endpoints that carry a hostname.</summary>
public class PodNamesTests
{
    private static ClusterModel Model(params object[] items) => PublishedModel.Of(items);

    private static V1Endpoint Pod(string address, string? hostname, bool ready = true, string? node = null)
    {
        var endpoint = Endpoint(address, ready);
        endpoint.Hostname = hostname;
        endpoint.NodeName = node;
        return endpoint;
    }

    private static V1EndpointSlice Slice(string name, string family, params V1Endpoint[] endpoints) =>
        TestObjects.Slice("data", "db", name, family, endpoints, SlicePort("postgres", 5432));

    private static V1Service Db() => Service("data", "db", ports: Port("postgres", 5432));

    private static ZoneLookup Find(Zone zone, string name) => zone.Find(DomainName.Parse(name));

    private static string[] Addresses(Zone zone, string name) =>
        Find(zone, name).Node is { } node ? [.. node.V4.Concat(node.V6).Select(a => a.ToString())] : [];

    private static string[] SrvTargets(Zone zone) =>
        [.. Find(zone, "_postgres._tcp.db.data.minilb").Node!.Srv.Select(s => $"{s.Port} {s.Target.ToString(false)}").Order(StringComparer.Ordinal)];

    [Test]
    public void A_hostname_answers_that_one_pod_in_both_families_and_SRV_points_at_it()
    {
        var zone = Model(Db(),
            Slice("db-v4", "IPv4", Pod("10.244.0.40", "db-0"), Pod("10.244.1.41", "db-1"), Pod("10.244.2.42", null)),
            Slice("db-v6", "IPv6", Pod("fd00::40", "db-0"))).Current;

        Assert.That(Addresses(zone, "db-0.db.data.minilb"), Is.EqualTo(new[] { "10.244.0.40", "fd00::40" }));
        Assert.That(Addresses(zone, "DB-1.db.data.minilb"), Is.EqualTo(new[] { "10.244.1.41" }));
        Assert.That(SrvTargets(zone), Is.EqualTo(new[]
        {
            "5432 10-244-2-42.db.data.minilb", // no hostname: today's address-derived name
            "5432 db-0.db.data.minilb",
            "5432 db-1.db.data.minilb",
        }));
        Assert.That(Addresses(zone, "10-244-0-40.db.data.minilb"), Is.EqualTo(new[] { "10.244.0.40" }), "address names stay for clients that use them");
        Assert.That(Find(zone, "db-2.db.data.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }

    [Test]
    public void Two_endpoints_with_one_hostname_answer_both_addresses_in_a_fixed_order()
    {
        var one = Model(Db(), Slice("a", "IPv4", Pod("10.244.1.9", "db-0")), Slice("b", "IPv4", Pod("10.244.0.8", "db-0"))).Current;
        var other = Model(Db(), Slice("b", "IPv4", Pod("10.244.0.8", "db-0")), Slice("a", "IPv4", Pod("10.244.1.9", "db-0"))).Current;

        Assert.That(Addresses(one, "db-0.db.data.minilb"), Is.EqualTo(new[] { "10.244.0.8", "10.244.1.9" }));
        Assert.That(Addresses(other, "db-0.db.data.minilb"), Is.EqualTo(Addresses(one, "db-0.db.data.minilb")));
    }

    [TestCase("DB_0")]
    [TestCase("-db")]
    [TestCase("db.0")]
    public void A_hostname_that_is_not_a_DNS_label_is_skipped_and_reported(string hostname)
    {
        var model = Model(Db(), Slice("db-1", "IPv4", Pod("10.244.0.40", hostname), Pod("10.244.1.41", "db-1")));

        Assert.That(SrvTargets(model.Current), Is.EqualTo(new[] { "5432 10-244-0-40.db.data.minilb", "5432 db-1.db.data.minilb" }));
        Assert.That(Addresses(model.Current, "db.db.data.minilb"), Is.Empty);
        Assert.That(model.TakeSkipped(), Is.EqualTo(new[]
        {
            $"EndpointSlice data/db-1: skipped 1 endpoints.hostname that are not DNS labels (their pods get no name of their own): '{hostname}'",
        }));
    }

    [Test]
    public void Pod_names_follow_slice_changes_and_leave_other_Services_untouched()
    {
        var model = Model(Db(), Slice("db-1", "IPv4", Pod("10.244.0.40", "db-0"), Pod("10.244.1.41", "db-1")),
            Service("default", "web"), TestObjects.Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));
        var before = model.Current;

        model.Upsert(Slice("db-1", "IPv4", Pod("10.244.0.40", "db-0"), Pod("10.244.1.41", "db-1", ready: false), Pod("10.244.2.43", "db-2")));
        var after = model.Publish();

        Assert.That(Find(after, "db-1.db.data.minilb").Status, Is.EqualTo(NameStatus.NotFound), "a pod that is not ready has no name");
        Assert.That(Addresses(after, "db-2.db.data.minilb"), Is.EqualTo(new[] { "10.244.2.43" }));
        Assert.That(SrvTargets(after), Is.EqualTo(new[] { "5432 db-0.db.data.minilb", "5432 db-2.db.data.minilb" }));
        Assert.That(after.Serial, Is.GreaterThan(before.Serial));
        Assert.That(after.Names[DomainName.Parse("web.default.minilb")], Is.SameAs(before.Names[DomainName.Parse("web.default.minilb")]),
            "only the changed Service is rebuilt");

        model.Delete(Slice("db-1", "IPv4"));
        Assert.That(Find(model.Publish(), "db-0.db.data.minilb").Status, Is.EqualTo(NameStatus.NotFound), "a deleted slice takes its names along");
    }

    [Test]
    public void A_pod_on_an_unreachable_node_loses_its_name_unless_it_is_the_last()
    {
        var model = Model(Db(), Slice("db-1", "IPv4", Pod("10.244.0.40", "db-0", node: "node-a"), Pod("10.244.1.41", "db-1", node: "node-b")));

        model.SetUnreachableNodes(new HashSet<string> { "node-a" });
        var zone = model.Publish();

        Assert.That(Find(zone, "db-0.db.data.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Addresses(zone, "db-1.db.data.minilb"), Is.EqualTo(new[] { "10.244.1.41" }));
    }

    [Test]
    public void A_hostname_spelled_like_an_address_label_does_not_take_over_that_name()
    {
        var zone = Model(Db(), Slice("db-1", "IPv4", Pod("10.244.0.40", null), Pod("10.244.1.41", "10-244-0-40"))).Current;

        Assert.That(Addresses(zone, "10-244-0-40.db.data.minilb"), Is.EqualTo(new[] { "10.244.0.40" }));
    }
}
