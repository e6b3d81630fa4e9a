using System.Net;
using ARSoft.Tools.Net;
using k8s.Models;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>Issue 7: odd or malformed objects never break the index; the other names keep resolving.</summary>
public class MalformedObjectsTests
{
    private static readonly ZoneSettings Settings = new();

    private static string[] V4(Zone zone, string name) =>
        zone.Find(DomainName.Parse(name)).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    /// <summary>A well-formed Service next to the odd object: it must keep resolving whatever the odd one holds.</summary>
    private static Zone WithGoodService(params object[] odd)
    {
        var model = new ClusterModel(Settings);
        model.Upsert(Service("default", "good"));
        model.Upsert(Slice("default", "good", "good-1", "IPv4", Ready("10.244.0.1")));
        foreach (var item in odd)
            Assert.DoesNotThrow(() => model.Upsert(item), $"upserting {item.GetType().Name}");
        var zone = model.Publish();
        Assert.That(V4(zone, "good.default.minilb"), Is.EqualTo(new[] { "10.244.0.1" }), "the well-formed Service stopped resolving");
        return zone;
    }

    [Test]
    public void A_service_without_ports_or_spec_still_resolves_without_SRV()
    {
        var noPorts = Service("default", "no-ports");
        noPorts.Spec.Ports = null;
        var noSpec = new V1Service { Metadata = new V1ObjectMeta { Name = "no-spec", NamespaceProperty = "default" } };
        var zone = WithGoodService(noPorts, noSpec, Slice("default", "no-ports", "np-1", "IPv4", Ready("10.244.0.2"), []));

        Assert.That(V4(zone, "no-ports.default.minilb"), Is.EqualTo(new[] { "10.244.0.2" }));
        Assert.That(zone.Find(DomainName.Parse("no-spec.default.minilb")).Status, Is.EqualTo(NameStatus.NotFound));
    }

    [TestCase("")]
    [TestCase("not-an-ip")]
    [TestCase("10.244.0.300")]
    [TestCase("10.244.0.0/24")]
    [TestCase("fd00::1")]
    public void An_invalid_or_wrong_family_address_is_skipped_and_the_valid_ones_kept(string bad)
    {
        var zone = WithGoodService(
            Service("default", "web"),
            Slice("default", "web", "web-1", "IPv4", [Endpoint(bad), Endpoint("10.244.1.5")]));

        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.1.5" }));
    }

    [TestCase("db-0-with-a-hostname-that-is-one-character-longer-than-63-chars0")]
    [TestCase("dé-0")]
    [TestCase("db 0")]
    [TestCase("")]
    public void An_odd_endpoint_hostname_gives_no_pod_name_and_breaks_nothing(string hostname)
    {
        var endpoint = Endpoint("10.244.1.5");
        endpoint.Hostname = hostname;
        var zone = WithGoodService(Service("default", "db"), Slice("default", "db", "db-1", "IPv4", [endpoint]));

        Assert.That(V4(zone, "db.default.minilb"), Is.EqualTo(new[] { "10.244.1.5" }));
        Assert.That(zone.Names.Keys.Count(k => k.IsSubDomainOf(DomainName.Parse("db.default.minilb"))), Is.EqualTo(3),
            "only the address name and the SRV names, _http._tcp and _tcp");
    }

    [Test]
    public void Huge_or_odd_annotation_values_are_taken_as_unset()
    {
        var huge = Service("default", "huge");
        huge.Metadata.Annotations = new Dictionary<string, string> { [ServedService.ExcludeAnnotation] = new string('x', 100_000), [ServedService.ServeAnnotation] = "\0" };
        var zone = WithGoodService(huge, Slice("default", "huge", "huge-1", "IPv4", Ready("10.244.1.6")));

        Assert.That(V4(zone, "huge.default.minilb"), Is.EqualTo(new[] { "10.244.1.6" }), "not excluded");
    }

    [Test]
    public void Skipped_addresses_are_reported_once_per_change_naming_the_slice_and_the_field()
    {
        var model = new ClusterModel(Settings);
        var slice = Slice("default", "web", "web-1", "IPv4", Ready("not-an-ip", "10.244.1.5", "fd00::1"));

        model.Upsert(slice);
        var first = model.TakeSkipped();
        model.Upsert(slice);
        var again = model.TakeSkipped();
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.1.5")));
        model.Upsert(slice);
        var afterFix = model.TakeSkipped();

        Assert.That(first.Single(), Does.Contain("EndpointSlice default/web-1").And.Contain("endpoints.addresses")
            .And.Contain("'not-an-ip'").And.Contain("'fd00::1'"));
        Assert.That(again, Is.Empty, "an unchanged slice is not reported again");
        Assert.That(afterFix, Has.Count.EqualTo(1), "fixed, then broken again: reported again");
    }

    [Test]
    public void Endpoints_without_addresses_or_conditions_and_slices_without_endpoints_are_skipped()
    {
        var slice = Slice("default", "web", "web-1", "IPv4", [
            new V1Endpoint { Addresses = null },
            new V1Endpoint { Addresses = [] },
            new V1Endpoint { Addresses = ["10.244.1.6"], Conditions = null },
        ]);
        var empty = Slice("default", "web", "web-2", "IPv4", []);
        empty.Endpoints = null;
        empty.Ports = null;
        var unlabelled = Slice("default", "web", "web-3", "IPv4", Ready("10.244.1.7"));
        unlabelled.Metadata.Labels = null;
        var fqdn = Slice("default", "web", "web-4", "FQDN", Ready("db.example.com"));

        var zone = WithGoodService(Service("default", "web"), slice, empty, unlabelled, fqdn);

        // A missing ready condition means ready (KEP-752); an unlabelled slice belongs to no Service.
        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.1.6" }));
    }

    [Test]
    public void Thousands_of_endpoints_are_indexed()
    {
        var addresses = Enumerable.Range(0, 5000).Select(i => $"10.{i / 65536 + 100}.{i / 256 % 256}.{i % 256}").ToArray();
        var slices = addresses.Chunk(1000).Select((chunk, i) => (object)Slice("default", "big", $"big-{i}", "IPv4", Ready(chunk)));

        var zone = WithGoodService([Service("default", "big"), .. slices]);

        Assert.That(V4(zone, "big.default.minilb"), Has.Length.EqualTo(5000));
    }

    [Test]
    public void Names_at_the_253_character_limit_do_not_break_the_index()
    {
        // A namespace is at most 63 characters and a Service name at most 63; with a long domain the owner name
        // may pass 255 octets (RFC 1035 2.3.4), which must not throw.
        var ns = new string('n', 63);
        var name = new string('s', 63);
        var longName = new string('x', 253);
        var odd = Service("default", longName);
        var model = new ClusterModel(new ZoneSettings { Domain = string.Join('.', Enumerable.Repeat(new string('d', 60), 2)) });
        Assert.DoesNotThrow(() =>
        {
            model.Upsert(Service(ns, name));
            model.Upsert(Slice(ns, name, "s-1", "IPv4", Ready("10.244.2.1")));
            model.Upsert(odd);
            model.Upsert(Slice("default", longName, "x-1", "IPv4", Ready("10.244.2.2")));
            model.Upsert(Service("default", "aliased", hosts: $"{new string('a', 64)}.example.com,{string.Join('.', Enumerable.Repeat(new string('h', 63), 5))}"));
            model.Publish();
        });

        Assert.That(V4(model.Current, $"{name}.{ns}.{model.Settings.Domain}"), Is.EqualTo(new[] { "10.244.2.1" }));
    }

    [Test]
    public void Objects_without_a_name_or_namespace_do_not_throw()
    {
        var model = new ClusterModel(Settings);
        Assert.DoesNotThrow(() =>
        {
            model.Upsert(new V1Service { Metadata = new V1ObjectMeta() });
            model.Upsert(new V1EndpointSlice { Metadata = new V1ObjectMeta(), AddressType = "IPv4" });
            model.Publish();
        });
    }

    [Test]
    public void Nodes_with_garbage_podCIDRs_or_no_InternalIP_are_problems_and_the_others_are_routed()
    {
        var noAddresses = Node("no-addresses", [], ["10.244.9.0/24"]);
        noAddresses.Status = null;
        var noSpec = new V1Node { Metadata = new V1ObjectMeta { Name = "no-spec" } };
        var plan = RoutePlan.FromNodes([
            Node("good", ["192.168.1.30"], ["10.244.0.0/24"]),
            Node("garbage", ["192.168.1.31"], ["", "not-a-cidr", "10.244.1.0/99", "300.1.1.0/24"]),
            Node("hostname-only", [], ["10.244.2.0/24"]),
            Node("bad-ip", ["192.168.1.999", ""], ["10.244.3.0/24"]),
            noAddresses,
            noSpec,
        ]);

        Assert.That(plan.Routes.Select(r => $"{r.Node} {r.Destination} {r.Gateway}"), Is.EqualTo(new[] { "good 10.244.0.0/24 192.168.1.30" }));
        var problems = plan.Problems.GroupBy(p => p.Node).ToDictionary(g => g.Key, g => g.Select(p => p.Reason).ToList());
        Assert.That(problems.Keys, Is.EquivalentTo(new[] { "garbage", "hostname-only", "bad-ip", "no-addresses", "no-spec" }));
        Assert.That(problems["garbage"], Has.Some.Contains("'not-a-cidr'"));
        Assert.That(problems["hostname-only"].Single(), Does.Contain("InternalIP"));
    }
}
