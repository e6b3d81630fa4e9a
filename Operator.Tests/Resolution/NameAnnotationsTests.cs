using ARSoft.Tools.Net;
using k8s;
using k8s.Models;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary><c>minilb/exclude</c> and <c>minilb/serve</c> against the model, read back with real lookups of the zone.</summary>
public class NameAnnotationsTests
{
    private static ClusterModel Model(params object[] items) => PublishedModel.Of(items);

    internal static T Annotated<T>(T item, string annotation, string value) where T : IKubernetesObject<V1ObjectMeta>
    {
        item.Metadata.Annotations ??= new Dictionary<string, string>();
        item.Metadata.Annotations[annotation] = value;
        return item;
    }

    private static ZoneLookup Find(Zone zone, string name) => zone.Find(DomainName.Parse(name));

    private static string[] V4(Zone zone, string name) => Find(zone, name).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];

    /// <summary>Two ingress controllers, both served, and one Ingress per controller for the same host.</summary>
    private static object[] TwoControllers(V1Ingress external) =>
    [
        Service("ingress", "internal"), Slice("ingress", "internal", "internal-1", "IPv4", Ready("10.244.0.70")),
        Service("ingress", "external"), Slice("ingress", "external", "external-1", "IPv4", Ready("10.244.1.90")),
        Ingress("shop", "internal", ["shop.example.com"], "internal.ingress.minilb"),
        external,
    ];

    private static V1Ingress External() => Ingress("shop", "external", ["shop.example.com", "api.example.com"], "external.ingress.minilb");

    [Test]
    public void An_excluded_Ingress_leaves_the_shared_host_to_the_other_without_a_conflict_report()
    {
        var model = Model(TwoControllers(Annotated(External(), ServedService.ExcludeAnnotation, "true")));

        Assert.That(V4(model.Current, "shop.example.com"), Is.EqualTo(new[] { "10.244.0.70" }));
        Assert.That(Find(model.Current, "api.example.com").Status, Is.EqualTo(NameStatus.Outside), "none of its hosts is served");
        Assert.That(model.TakeSkipped(), Is.Empty);
    }

    [Test]
    public void Claims_that_disagree_answer_all_targets_and_are_reported_naming_both_objects()
    {
        var model = Model(TwoControllers(External()));

        Assert.That(V4(model.Current, "shop.example.com"), Is.EqualTo(new[] { "10.244.0.70", "10.244.1.90" }));
        var report = model.TakeSkipped().Single();
        Assert.That(report, Does.StartWith("shop.example.com is claimed by Ingress shop/external → external.ingress.minilb; Ingress shop/internal → internal.ingress.minilb"));
        Assert.That(report, Does.Contain("minilb/exclude"));

        // Excluding one of them later ends the conflict; the answer follows.
        model.Upsert(Annotated(External(), ServedService.ExcludeAnnotation, "true"));
        Assert.That(V4(model.Publish(), "shop.example.com"), Is.EqualTo(new[] { "10.244.0.70" }));
        model.Upsert(External());
        Assert.That(V4(model.Publish(), "shop.example.com"), Is.EqualTo(new[] { "10.244.0.70", "10.244.1.90" }), "and comes back without it");
    }

    [Test]
    public void Several_Ingresses_for_one_host_on_one_controller_are_no_conflict()
    {
        var model = Model(
            Service("ingress", "internal"), Slice("ingress", "internal", "internal-1", "IPv4", Ready("10.244.0.70")),
            Ingress("shop", "cart", ["shop.example.com"], "internal.ingress.minilb"),
            Ingress("shop", "catalog", ["shop.example.com"], "internal.ingress.minilb"));

        Assert.That(V4(model.Current, "shop.example.com"), Is.EqualTo(new[] { "10.244.0.70" }));
        Assert.That(model.TakeSkipped(), Is.Empty, "paths of one site split over several Ingresses are normal");
    }

    [Test]
    public void An_excluded_route_leaves_its_hostnames_out()
    {
        var model = Model(
            Service("gw", "envoy"), Slice("gw", "envoy", "envoy-1", "IPv4", Ready("10.244.1.80")),
            Gateway("gw", "public", "envoy.gw.minilb"),
            Route<V1HttpRoute>("docs", "docs", "gw", "public", "docs.example.com"),
            Annotated(Route<V1GrpcRoute>("docs", "grpc", "gw", "public", "grpc.example.com"), ServedService.ExcludeAnnotation, "true"),
            Annotated(Route<V1Alpha2TlsRoute>("docs", "tls", "gw", "public", "*.tls.example.com"), ServedService.ExcludeAnnotation, "true"));

        Assert.That(V4(model.Current, "docs.example.com"), Is.EqualTo(new[] { "10.244.1.80" }));
        Assert.That(Find(model.Current, "grpc.example.com").Status, Is.EqualTo(NameStatus.Outside));
        Assert.That(Find(model.Current, "a.tls.example.com").Status, Is.EqualTo(NameStatus.Outside));
    }

    [Test]
    public void An_excluded_LoadBalancer_has_no_name_no_alias_and_no_SRV()
    {
        var model = Model(
            Annotated(Service("default", "web", hosts: "www.example.com"), ServedService.ExcludeAnnotation, "true"),
            Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")),
            Service("default", "api"));

        Assert.That(Find(model.Current, "web.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(model.Current, "_http._tcp.web.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(model.Current, "www.example.com").Status, Is.EqualTo(NameStatus.Outside));
        Assert.That(model.ServedCount, Is.EqualTo(1));

        model.Upsert(Annotated(Service("default", "web", hosts: "www.example.com"), ServedService.ExcludeAnnotation, "false"));
        var zone = model.Publish();
        Assert.That(V4(zone, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.11" }), "\"false\" serves it again");
        Assert.That(V4(zone, "www.example.com"), Is.EqualTo(new[] { "10.244.0.11" }));
    }

    [TestCase("yes")]
    [TestCase("True")]
    [TestCase("")]
    public void An_odd_exclude_value_is_reported_and_means_not_excluded(string value)
    {
        var model = Model(
            Annotated(Service("default", "web"), ServedService.ExcludeAnnotation, value),
            Annotated(Ingress("shop", "site", ["shop.example.com"], "web.default.minilb"), ServedService.ExcludeAnnotation, value),
            Annotated(Route<V1HttpRoute>("docs", "docs", "gw", "public", "docs.example.com"), ServedService.ExcludeAnnotation, value),
            Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));

        Assert.That(V4(model.Current, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.11" }));
        Assert.That(V4(model.Current, "shop.example.com"), Is.EqualTo(new[] { "10.244.0.11" }));
        Assert.That(model.TakeSkipped(), Is.EquivalentTo(new[]
        {
            $"Service default/web: annotation minilb/exclude: '{value}' is not \"true\" or \"false\"; treated as not excluded",
            $"Ingress shop/site: annotation minilb/exclude: '{value}' is not \"true\" or \"false\"; treated as not excluded",
            $"HTTPRoute docs/docs: annotation minilb/exclude: '{value}' is not \"true\" or \"false\"; treated as not excluded",
        }));
    }

    [TestCase("ClusterIP")]
    [TestCase("NodePort")]
    public void Serve_answers_a_Service_that_is_not_our_LoadBalancer_with_its_ready_pods_and_SRV(string type)
    {
        var model = Model(
            Annotated(Service("default", "cache", type: type, loadBalancerClass: null), ServedService.ServeAnnotation, "true"),
            Slice("default", "cache", "cache-1", "IPv4", [Endpoint("10.244.0.5"), Endpoint("10.244.1.6"), Endpoint("10.244.2.7", ready: false)]),
            Service("default", "plain", type: type, loadBalancerClass: null),
            Slice("default", "plain", "plain-1", "IPv4", Ready("10.244.0.9")));

        Assert.That(V4(model.Current, "cache.default.minilb"), Is.EqualTo(new[] { "10.244.0.5", "10.244.1.6" }));
        Assert.That(Find(model.Current, "_http._tcp.cache.default.minilb").Node!.Srv.Select(s => (s.Port, s.Target.ToString(false))),
            Is.EquivalentTo(new[] { ((ushort)8080, "10-244-0-5.cache.default.minilb"), ((ushort)8080, "10-244-1-6.cache.default.minilb") }));
        Assert.That(Find(model.Current, "plain.default.minilb").Status, Is.EqualTo(NameStatus.NotFound), "without the annotation only our LoadBalancers");
        Assert.That(model.TakeSkipped(), Is.Empty);
    }

    [Test]
    public void Serve_on_a_LoadBalancer_of_another_class_serves_it_and_exclude_beats_serve()
    {
        var model = Model(
            Annotated(Service("default", "theirs", loadBalancerClass: "metallb"), ServedService.ServeAnnotation, "true"),
            Annotated(Annotated(Service("default", "both", type: "ClusterIP", loadBalancerClass: null), ServedService.ServeAnnotation, "true"),
                ServedService.ExcludeAnnotation, "true"));

        Assert.That(Find(model.Current, "theirs.default.minilb").Status, Is.EqualTo(NameStatus.Found));
        Assert.That(Find(model.Current, "both.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
    }

    [Test]
    public void ExternalName_is_never_served_and_the_annotation_on_it_is_reported()
    {
        var external = Annotated(Service("default", "legacy", type: "ExternalName", loadBalancerClass: null), ServedService.ServeAnnotation, "true");
        external.Spec.ExternalName = "legacy.example.com";
        var model = Model(external, Annotated(Service("default", "odd", type: "ClusterIP", loadBalancerClass: null), ServedService.ServeAnnotation, "1"));

        Assert.That(Find(model.Current, "legacy.default.minilb").Status, Is.EqualTo(NameStatus.NotFound));
        Assert.That(Find(model.Current, "odd.default.minilb").Status, Is.EqualTo(NameStatus.NotFound), "an odd value means not set");
        Assert.That(model.TakeSkipped(), Is.EquivalentTo(new[]
        {
            "Service default/legacy: minilb/serve: \"true\" is ignored: an ExternalName Service has no endpoints to serve",
            "Service default/odd: annotation minilb/serve: '1' is not \"true\" or \"false\"; treated as not set",
        }));
    }

    [Test]
    public void The_annotations_survive_the_projection_and_nothing_else_of_the_annotations_is_kept()
    {
        var service = Annotated(Annotated(Service("default", "web", hosts: "www.example.com"), ServedService.ServeAnnotation, "true"), ServedService.ExcludeAnnotation, "false");
        service.Metadata.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = new string('x', 4096);

        var view = ServiceView.From(service);

        Assert.That((view.Serve, view.Exclude, view.Aliases.Single()), Is.EqualTo(("true", "false", "www.example.com")));
        Assert.That(view.GetType().GetProperties().Where(p => p.PropertyType == typeof(IDictionary<string, string>)), Is.Empty);
    }
}
