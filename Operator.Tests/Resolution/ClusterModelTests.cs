using System.Net;
using ARSoft.Tools.Net;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

public class ClusterModelTests
{
    private static readonly ZoneSettings Settings = new();

    private static ClusterModel Model(params object[] items)
    {
        var model = new ClusterModel(Settings, new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z")));
        foreach (var item in items)
            model.Upsert(item);
        model.Publish();
        return model;
    }

    private static ZoneLookup Find(Zone zone, string name) => zone.Find(DomainName.Parse(name));

    private static string[] V4(Zone zone, string name) => Find(zone, name).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    [Test]
    public void Serves_only_LoadBalancer_services_of_the_configured_class()
    {
        var zone = Model(
            Service("default", "web"),
            Service("default", "other-class", loadBalancerClass: "metallb"),
            Service("default", "no-class", loadBalancerClass: null),
            Service("default", "nodeport", type: "NodePort"),
            Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.1")),
            Slice("default", "other-class", "o-1", "IPv4", Ready("10.244.0.2")),
            Slice("default", "nodeport", "n-1", "IPv4", Ready("10.244.0.3"))).Current;

        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.1" }));
        Assert.That(Find(zone, "other-class.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(zone, "no-class.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(zone, "nodeport.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }

    [Test]
    public void Class_and_domain_come_from_the_settings()
    {
        var model = new ClusterModel(new ZoneSettings { Domain = "lb.home.arpa", LoadBalancerClass = "example.com/lb" });
        model.Upsert(Service("shop", "cart", loadBalancerClass: "example.com/lb"));
        var zone = model.Publish();

        Assert.That(Find(zone, "cart.shop.lb.home.arpa").Status, Is.EqualTo(NameStatus.Found));
        Assert.That(Find(zone, "cart.shop.minilb").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void Only_ready_serving_not_terminating_endpoints_are_answered_without_duplicates()
    {
        var zone = Model(
            Service("default", "web"),
            Slice("default", "web", "web-1", "IPv4", [
                Endpoint("10.244.0.1", ready: true),
                Endpoint("10.244.0.2", ready: null),
                Endpoint("10.244.0.3", ready: false),
                Endpoint("10.244.0.4", ready: true, serving: false),
                Endpoint("10.244.0.5", ready: false, serving: true, terminating: true),
                Endpoint("10.244.0.6", ready: null, terminating: true),
            ]),
            Slice("default", "web", "web-2", "IPv4", Ready("10.244.0.1", "10.244.1.7")),
            Slice("default", "web", "web-v6", "IPv6", Ready("fd00::7"))).Current;

        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.1", "10.244.0.2", "10.244.1.7" }));
        Assert.That(Find(zone, "web.default.minilb").Node!.V6, Is.EqualTo(new[] { IPAddress.Parse("fd00::7") }));
    }

    [Test]
    public void A_service_without_ready_endpoints_and_its_namespace_exist_without_data()
    {
        var zone = Model(Service("shop", "idle"), Slice("shop", "idle", "idle-1", "IPv4", [Endpoint("10.244.0.9", ready: false)])).Current;

        var service = Find(zone, "idle.shop.minilb");
        var ns = Find(zone, "shop.minilb");
        Assert.That(service.Status, Is.EqualTo(NameStatus.Found));
        Assert.That(service.Node!.HasData, Is.False);
        Assert.That(ns.Status, Is.EqualTo(NameStatus.Found), "an empty non-terminal is not NXDOMAIN (RFC 8020)");
        Assert.That(Find(zone, "other.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }

    [Test]
    public void Deleting_the_last_service_of_a_namespace_removes_the_namespace_name()
    {
        var model = Model(Service("shop", "a"), Service("shop", "b"));
        model.Delete(Service("shop", "a"));
        Assert.That(Find(model.Publish(), "shop.minilb").Status, Is.EqualTo(NameStatus.Found));

        model.Delete(Service("shop", "b"));
        var zone = model.Publish();
        Assert.That(Find(zone, "shop.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(zone, "b.shop.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }

    [Test]
    public void Names_match_case_insensitively()
    {
        var zone = Model(Service("default", "web"), Slice("default", "web", "w", "IPv4", Ready("10.244.0.1"))).Current;

        Assert.That(V4(zone, "WeB.DeFaUlT.MiNiLb"), Is.EqualTo(new[] { "10.244.0.1" }));
    }

    [Test]
    public void Named_ports_give_SRV_with_the_endpoint_port_and_targets_that_resolve()
    {
        var zone = Model(
            Service("default", "api", ports: [Port("http", 80), Port("dns", 53, "UDP"), Port(null, 9000)]),
            Slice("default", "api", "api-1", "IPv4", Ready("10.244.1.5", "10.244.2.6"), SlicePort("http", 8080), SlicePort("dns", 5353, "UDP"), SlicePort(null, 9000))).Current;

        var srv = Find(zone, "_http._tcp.api.default.minilb").Node!.Srv;
        Assert.That(srv.Select(s => s.Port), Is.All.EqualTo(8080));
        Assert.That(srv.Select(s => s.Target.ToString(false)), Is.EquivalentTo(new[] { "10-244-1-5.api.default.minilb", "10-244-2-6.api.default.minilb" }));
        Assert.That(V4(zone, "10-244-1-5.api.default.minilb"), Is.EqualTo(new[] { "10.244.1.5" }));
        Assert.That(Find(zone, "_dns._udp.api.default.minilb").Node!.Srv.Select(s => s.Port), Is.All.EqualTo(5353));
        Assert.That(Find(zone, "_tcp.api.default.minilb").Status, Is.EqualTo(NameStatus.Found), "the _tcp level is an empty non-terminal");
        Assert.That(Find(zone, "_dns._tcp.api.default.minilb").Status, Is.EqualTo(NameStatus.NotFound), "dns is a UDP port");
    }

    [Test]
    public void IPv6_endpoint_names_resolve_to_their_address()
    {
        var zone = Model(Service("default", "api"), Slice("default", "api", "v6", "IPv6", Ready("fd00:10:244:2::21"))).Current;

        var srv = Find(zone, "_http._tcp.api.default.minilb").Node!.Srv.Single();
        Assert.That(Find(zone, srv.Target.ToString()).Node!.V6, Is.EqualTo(new[] { IPAddress.Parse("fd00:10:244:2::21") }));
    }

    [Test]
    public void The_host_annotation_adds_aliases_that_are_apexes_of_their_own()
    {
        var zone = Model(Service("default", "web", hosts: "www.example.com, Shop.Example.com."), Slice("default", "web", "w", "IPv4", Ready("10.244.0.1"))).Current;

        foreach (var alias in new[] { "www.example.com", "shop.example.com" })
        {
            var lookup = Find(zone, alias);
            Assert.That(lookup.IsApex, Is.True, alias);
            Assert.That(lookup.SoaOwner.ToString(false), Is.EqualTo(alias), alias);
            Assert.That(V4(zone, alias), Is.EqualTo(new[] { "10.244.0.1" }), alias);
        }
        Assert.That(Find(zone, "x.www.example.com").Status, Is.EqualTo(NameStatus.Outside), "below an alias is not ours");
        Assert.That(Find(zone, "example.com").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void An_annotation_on_a_service_that_is_not_served_adds_nothing()
    {
        var zone = Model(Service("default", "web", loadBalancerClass: "other", hosts: "www.example.com")).Current;

        Assert.That(Find(zone, "www.example.com").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void Ingress_hosts_resolve_when_the_ingress_status_names_a_served_service()
    {
        var zone = Model(
            Service("ingress", "nginx"),
            Slice("ingress", "nginx", "n", "IPv4", Ready("10.244.0.70")),
            Ingress("shop", "store", ["shop.example.com"], "nginx.ingress.minilb"),
            Ingress("shop", "elsewhere", ["other.example.com"], "lb.cloud.example.net")).Current;

        Assert.That(V4(zone, "shop.example.com"), Is.EqualTo(new[] { "10.244.0.70" }));
        Assert.That(Find(zone, "other.example.com").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void Ingress_wildcards_match_one_label_gateway_wildcards_one_or_more_and_exact_names_win()
    {
        var zone = Model(
            Service("ingress", "nginx"), Slice("ingress", "nginx", "n", "IPv4", Ready("10.0.0.1")),
            Service("gw", "envoy"), Slice("gw", "envoy", "e", "IPv4", Ready("10.0.0.2")),
            Service("default", "exact"), Slice("default", "exact", "x", "IPv4", Ready("10.0.0.3")),
            Ingress("shop", "wild", ["*.ingress.example.com"], "nginx.ingress.minilb"),
            Ingress("shop", "exact", ["a.routes.example.com"], "exact.default.minilb"),
            Gateway("gw", "public", "envoy.gw.minilb"),
            Route<V1HttpRoute>("shop", "wild", "gw", "public", "*.routes.example.com")).Current;

        Assert.That(V4(zone, "a.ingress.example.com"), Is.EqualTo(new[] { "10.0.0.1" }));
        Assert.That(Find(zone, "b.a.ingress.example.com").Status, Is.EqualTo(NameStatus.Outside), "Ingress wildcards match exactly one label");
        Assert.That(Find(zone, "ingress.example.com").Status, Is.EqualTo(NameStatus.Outside), "a wildcard does not match its own suffix");
        Assert.That(V4(zone, "b.routes.example.com"), Is.EqualTo(new[] { "10.0.0.2" }));
        Assert.That(V4(zone, "c.b.routes.example.com"), Is.EqualTo(new[] { "10.0.0.2" }), "Gateway API wildcards match one or more labels");
        Assert.That(V4(zone, "a.routes.example.com"), Is.EqualTo(new[] { "10.0.0.3" }), "an exact name beats a wildcard");
    }

    [Test]
    public void Route_hostnames_follow_their_gateway_whatever_the_order_of_events()
    {
        var model = Model(
            Service("gw", "envoy"), Slice("gw", "envoy", "e", "IPv4", Ready("10.0.0.2")),
            Route<V1GrpcRoute>("shop", "grpc", "gw", "public", "grpc.example.com"),
            Route<V1Alpha2TlsRoute>("shop", "tls", "gw", "public", "tls.example.com"));
        Assert.That(Find(model.Current, "grpc.example.com").Status, Is.EqualTo(NameStatus.Outside), "no Gateway yet");

        model.Upsert(Gateway("gw", "public", "envoy.gw.minilb"));
        var zone = model.Publish();
        Assert.That(V4(zone, "grpc.example.com"), Is.EqualTo(new[] { "10.0.0.2" }));
        Assert.That(V4(zone, "tls.example.com"), Is.EqualTo(new[] { "10.0.0.2" }));

        model.Delete(Gateway("gw", "public"));
        Assert.That(Find(model.Publish(), "grpc.example.com").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void Aliases_follow_the_addresses_of_their_service()
    {
        var model = Model(Service("default", "web", hosts: "www.example.com"), Slice("default", "web", "w", "IPv4", Ready("10.244.0.1")));

        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.244.0.1", "10.244.0.2")));
        var zone = model.Publish();

        Assert.That(V4(zone, "www.example.com"), Is.EqualTo(new[] { "10.244.0.1", "10.244.0.2" }));
    }

    [Test]
    public void The_serial_increases_when_answers_change_and_only_then()
    {
        var model = Model(Service("default", "web"), Slice("default", "web", "w", "IPv4", Ready("10.244.0.1")));
        var first = model.Current;

        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.244.0.1")));
        Assert.That(model.Publish().Serial, Is.EqualTo(first.Serial), "same answers, same serial");

        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.244.0.2")));
        var second = model.Publish();
        Assert.That(second.Serial, Is.GreaterThan(first.Serial));
        Assert.That(V4(first, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.1" }), "a published zone never changes");
        Assert.That(V4(second, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.2" }));
    }

    [Test]
    public void Moving_a_slice_to_another_service_moves_its_addresses()
    {
        var model = Model(Service("default", "a"), Service("default", "b"), Slice("default", "a", "s", "IPv4", Ready("10.244.0.1")));

        model.Upsert(Slice("default", "b", "s", "IPv4", Ready("10.244.0.1")));
        var zone = model.Publish();

        Assert.That(V4(zone, "a.default.minilb"), Is.Empty);
        Assert.That(V4(zone, "b.default.minilb"), Is.EqualTo(new[] { "10.244.0.1" }));
    }

    [Test]
    public void Deleting_a_service_removes_its_names_and_aliases()
    {
        var model = Model(Service("default", "web", hosts: "www.example.com", ports: [Port("http", 80)]), Slice("default", "web", "w", "IPv4", Ready("10.244.0.1")));

        model.Delete(Service("default", "web"));
        var zone = model.Publish();

        Assert.That(Find(zone, "web.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(zone, "_http._tcp.web.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(zone, "10-244-0-1.web.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(zone, "www.example.com").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void Changing_the_class_stops_serving_the_service()
    {
        var model = Model(Service("default", "web"));
        model.Upsert(Service("default", "web", loadBalancerClass: "other"));

        Assert.That(Find(model.Publish(), "web.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }

    [Test]
    public void Names_outside_the_zone_are_outside()
    {
        var zone = Model(Service("default", "web")).Current;

        Assert.That(Find(zone, "example.com").Status, Is.EqualTo(NameStatus.Outside));
        Assert.That(Find(zone, "minilb").IsApex, Is.True);
    }

    [Test]
    public void Names_between_an_alias_inside_the_zone_and_the_apex_exist_without_data()
    {
        var model = Model(
            Service("default", "web", hosts: "shop.apps.minilb"),
            Slice("default", "web", "w", "IPv4", Ready("10.244.0.1")),
            Service("gw", "envoy"), Slice("gw", "envoy", "e", "IPv4", Ready("10.0.0.2")),
            Gateway("gw", "public", "envoy.gw.minilb"),
            Route<V1HttpRoute>("shop", "preview", "gw", "public", "*.preview.minilb"));
        var zone = model.Current;

        Assert.That(V4(zone, "shop.apps.minilb"), Is.EqualTo(new[] { "10.244.0.1" }));
        Assert.That(Find(zone, "apps.minilb").Status, Is.EqualTo(NameStatus.Found), "empty non-terminal (RFC 8020)");
        Assert.That(Find(zone, "preview.minilb").Status, Is.EqualTo(NameStatus.Found), "the wildcard's parent exists");
        Assert.That(Find(zone, "preview.minilb").Node!.HasData, Is.False, "a wildcard does not match its own parent");
        Assert.That(V4(zone, "a.b.preview.minilb"), Is.EqualTo(new[] { "10.0.0.2" }));

        model.Delete(Service("default", "web"));
        Assert.That(Find(model.Publish(), "apps.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }
}
