using System.Diagnostics;
using System.Net;
using ARSoft.Tools.Net;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>PTR records in the reverse zones of the nodes' podCIDRs, as the model keeps them across changes.</summary>
public class ReverseZonesTests
{
    private static ClusterModel Model()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.244.1.0/24", "fd00:10:244:1::/64"]));
        model.Upsert(Node("node-b", ["192.168.1.11"], ["10.244.2.0/24"]));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.1.5", "10.244.2.5")));
        model.Upsert(Service("shop", "api"));
        model.Upsert(Slice("shop", "api", "api-4", "IPv4", Ready("10.244.1.5")));
        model.Upsert(Slice("shop", "api", "api-6", "IPv6", Ready("fd00:10:244:1::7")));
        return model;
    }

    private static ZoneLookup Find(Zone zone, string name) => zone.Find(DomainName.Parse(name));

    private static string[] Ptr(Zone zone, string name) =>
        Find(zone, name) is { Pointers.IsDefault: false } lookup ? [.. lookup.Pointers.Select(p => p.ToString(false))] : [];

    [TestCase("10.244.1.0/24", "1.244.10.in-addr.arpa")]
    [TestCase("10.244.0.0/16", "244.10.in-addr.arpa")]
    [TestCase("10.244.16.0/20", "244.10.in-addr.arpa", TestName = "A /20 is served as the covering /16")]
    [TestCase("10.244.1.64/26", "1.244.10.in-addr.arpa", TestName = "A /26 is served as the covering /24")]
    [TestCase("10.0.0.0/8", "10.in-addr.arpa")]
    [TestCase("fd00:10:244:1::/64", "1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa")]
    [TestCase("fd00:10:244:4::/62", "0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa", TestName = "A /62 is served as the covering /60")]
    [TestCase("fd00:10:244::/48", "4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa")]
    [TestCase("10.0.0.0/4", null, TestName = "A prefix shorter than one octet gets no zone")]
    [TestCase("not-a-cidr", null)]
    public void A_podCIDR_gets_the_reverse_zone_at_the_label_boundary_that_covers_it(string cidr, string? apex) =>
        Assert.That(ReverseNames.ApexOf(cidr)?.ToString(false), Is.EqualTo(apex));

    [TestCase("10.244.1.5", "5.1.244.10.in-addr.arpa")]
    [TestCase("fd00:10:244:1::7", "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa")]
    public void The_PTR_owner_is_the_reversed_address(string address, string owner) =>
        Assert.That(ReverseNames.PointerOf(IPAddress.Parse(address)).ToString(false), Is.EqualTo(owner));

    [Test]
    public void Each_served_address_points_at_every_Service_name_that_answers_it_in_a_fixed_order()
    {
        var zone = Model().Publish();

        Assert.That(Ptr(zone, "5.1.244.10.in-addr.arpa"), Is.EqualTo(new[] { "api.shop.minilb", "web.default.minilb" }));
        Assert.That(Ptr(zone, "5.2.244.10.in-addr.arpa"), Is.EqualTo(new[] { "web.default.minilb" }));
        Assert.That(Ptr(zone, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa"), Is.EqualTo(new[] { "api.shop.minilb" }));
        Assert.That(Find(zone, "5.1.244.10.IN-ADDR.ARPA").Status, Is.EqualTo(NameStatus.Found), "names match case-insensitively");
    }

    [Test]
    public void Negative_answers_follow_the_forward_zone_rules_with_the_reverse_apex()
    {
        var zone = Model().Publish();

        Assert.That(Find(zone, "1.244.10.in-addr.arpa"), Is.EqualTo(new ZoneLookup(NameStatus.Found, ZoneNode.Empty, DomainName.Parse("1.244.10.in-addr.arpa"), IsApex: true)));
        Assert.That(Find(zone, "9.1.244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.NotFound), "no pod there");
        Assert.That(Find(zone, "9.1.244.10.in-addr.arpa").SoaOwner.ToString(false), Is.EqualTo("1.244.10.in-addr.arpa"));
        Assert.That(Find(zone, "x.5.1.244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.NotFound), "nothing below a PTR owner");
        var between = Find(zone, "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa");
        Assert.That((between.Status, between.IsApex, between.Pointers.IsDefault), Is.EqualTo((NameStatus.Found, false, true)), "an empty non-terminal exists (RFC 8020)");
        Assert.That(Find(zone, "5.3.244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.Outside), "no node has 10.244.3.0/24");
        Assert.That(Find(zone, "244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.Outside), "above every reverse apex");
    }

    [Test]
    public void PTRs_follow_endpoint_changes_and_leave_with_their_Service()
    {
        var model = Model();
        model.Publish();

        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.2.5", "10.244.2.6")));
        var moved = model.Publish();
        model.Delete(Service("shop", "api"));
        var deleted = model.Publish();

        Assert.That(Ptr(moved, "5.1.244.10.in-addr.arpa"), Is.EqualTo(new[] { "api.shop.minilb" }));
        Assert.That(Ptr(moved, "6.2.244.10.in-addr.arpa"), Is.EqualTo(new[] { "web.default.minilb" }));
        Assert.That(Find(deleted, "5.1.244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(deleted, "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa").Status, Is.EqualTo(NameStatus.NotFound),
            "the empty non-terminals of the last IPv6 address went with it");
        Assert.That(deleted.Reverse.Pointers.Keys.Select(k => k.ToString(false)), Is.EquivalentTo(new[] { "5.2.244.10.in-addr.arpa", "6.2.244.10.in-addr.arpa" }));
        Assert.That(deleted.Reverse.Parents, Has.Count.EqualTo(3), "2.244.10, 244.10 and 10.in-addr.arpa");
    }

    [Test]
    public void Reverse_zones_come_and_go_with_the_nodes_podCIDRs_and_heartbeats_change_nothing()
    {
        var model = Model();
        var zone = model.Publish();

        model.Upsert(Node("node-b", ["192.168.1.11"], ["10.244.2.0/24"])); // a heartbeat: same podCIDRs
        Assert.That(model.Publish(), Is.SameAs(zone), "no new zone version, the SOA serial stays");

        model.Delete(Node("node-b", [], []));
        var without = model.Publish();
        Assert.That(without.Serial, Is.GreaterThan(zone.Serial));
        Assert.That(Find(without, "5.2.244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.Outside), "no zone for 10.244.2.0/24 any more");
        Assert.That(Ptr(without, "5.1.244.10.in-addr.arpa"), Has.Length.EqualTo(2), "the other node's zone stays");

        model.Upsert(Node("node-c", ["192.168.1.12"], ["10.244.2.0/24"]));
        Assert.That(Ptr(model.Publish(), "5.2.244.10.in-addr.arpa"), Is.EqualTo(new[] { "web.default.minilb" }), "the PTR was kept, only the zone was missing");
    }

    [Test]
    public void Addresses_a_Service_no_longer_answers_leave_the_reverse_zone_too()
    {
        var model = Model();
        model.Upsert(Service("default", "solo"));
        model.Upsert(Slice("default", "solo", "solo-1", "IPv4", [Endpoint("10.244.2.9", ready: false)]));
        var zone = model.Publish();

        Assert.That(Find(zone, "9.2.244.10.in-addr.arpa").Status, Is.EqualTo(NameStatus.NotFound), "a pod that is not ready has no PTR");
    }

    [Test]
    public void Empty_non_terminals_stay_exact_through_any_order_of_adds_and_removes()
    {
        var random = new Random(13);
        var index = new ReverseIndex();
        var served = new Dictionary<string, HashSet<IPAddress>>();
        IPAddress RandomAddress() => random.Next(2) == 0
            ? IPAddress.Parse($"10.244.{random.Next(3)}.{random.Next(4)}")
            : IPAddress.Parse($"fd00:10:244:{random.Next(2)}::{random.Next(3):x}{random.Next(2)}");
        for (var step = 0; step < 400; step++)
        {
            var name = $"svc{random.Next(4)}.default.minilb";
            var before = served.GetValueOrDefault(name) ?? [];
            var after = before.ToHashSet();
            if (random.Next(3) == 0 && after.Count > 0)
                after.Remove(after.ElementAt(random.Next(after.Count)));
            else
                after.Add(RandomAddress());
            index.Replace(before.Count == 0 ? null : DomainName.Parse(name), ZoneNode.Addresses(before), DomainName.Parse(name), ZoneNode.Addresses(after));
            served[name] = after;

            var zones = index.Snapshot();
            var owners = served.Values.SelectMany(a => a).Distinct().Select(ReverseNames.PointerOf).ToArray();
            var expected = owners.SelectMany(o => Enumerable.Range(1, o.LabelCount - 3).Select(o.GetParentName)).Distinct().Select(n => n.ToString(false)).Order();
            Assert.That(zones.Pointers.Keys.Select(k => k.ToString(false)).Order(), Is.EqualTo(owners.Select(o => o.ToString(false)).Order()), $"step {step}: PTR owners");
            Assert.That(zones.Parents.Keys.Select(k => k.ToString(false)).Order(), Is.EqualTo(expected), $"step {step}: every name between an owner and the arpa name, no other");
        }
    }

    [Test]
    [Category("Slow")]
    public void Figures_one_endpoint_change_at_10k_Services_costs_the_same_with_reverse_zones()
    {
        // The same cluster with and without nodes (reverse zones); one endpoint change, best of 20.
        TimeSpan Change(bool nodes)
        {
            var model = new ClusterModel(new ZoneSettings());
            if (nodes)
            {
                for (var n = 0; n < 40; n++)
                    model.Upsert(Node($"node-{n}", [$"192.168.1.{n + 10}"], [$"10.{n}.0.0/16"]));
            }
            for (var i = 0; i < 10_000; i++)
            {
                model.Upsert(Service($"ns{i % 20}", $"svc{i}"));
                model.Upsert(Slice($"ns{i % 20}", $"svc{i}", $"svc{i}-1", "IPv4", Ready($"10.{i / 250 % 40}.{i % 250}.1", $"10.{i / 250 % 40}.{i % 250}.2")));
            }
            model.Publish();
            var best = TimeSpan.MaxValue;
            for (var round = 0; round < 20; round++)
            {
                var clock = Stopwatch.StartNew();
                model.Upsert(Slice("ns0", "svc0", "svc0-1", "IPv4", Ready("10.0.0.1", $"10.0.0.{3 + round % 2}")));
                model.Publish();
                best = clock.Elapsed < best ? clock.Elapsed : best;
            }
            if (nodes)
                Assert.That(model.Current.Reverse.Pointers, Has.Count.EqualTo(20_000));
            return best;
        }

        Change(true); // JIT
        var without = Change(false);
        var with = Change(true);
        TestContext.Out.WriteLine($"One endpoint change at 10,000 Services (20,000 addresses): publish {without.TotalMicroseconds:F0} µs without reverse zones, " +
            $"{with.TotalMicroseconds:F0} µs with 40 reverse zones and 20,000 PTRs; best of 20");
    }

    [Test]
    [Category("Slow")]
    public void Figures_memory_the_reverse_index_keeps_per_served_address()
    {
        // The index as ClusterModel feeds it: 10,000 Services with 2 addresses each, in 40 /16 podCIDR zones.
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var index = new ReverseIndex();
        for (var n = 0; n < 40; n++)
            index.SetNode($"node-{n}", [$"10.{n}.0.0/16"]);
        for (var i = 0; i < 10_000; i++)
        {
            var name = DomainName.Parse($"svc{i}.ns{i % 20}.minilb");
            index.Replace(null, null, name, ZoneNode.Addresses([IPAddress.Parse($"10.{i / 250 % 40}.{i % 250}.1"), IPAddress.Parse($"10.{i / 250 % 40}.{i % 250}.2")]));
        }
        var zones = index.Snapshot();
        var after = GC.GetTotalMemory(forceFullCollection: true);

        var bytes = after - before;
        TestContext.Out.WriteLine($"Reverse index for 20,000 served IPv4 addresses: {bytes / 1048576.0:F1} MiB retained ({bytes / 20_000.0:F0} bytes per address, " +
            $"{zones.Pointers.Count} PTR owners, {zones.Parents.Count} empty non-terminals; the Service names themselves are shared with the forward zone but counted here)");
        Assert.That(zones.Pointers, Has.Count.EqualTo(20_000));
        GC.KeepAlive(index);
    }
}
