using k8s;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>The Gateway API types read like k8s.Models types: from JSON (watch events) as from YAML (snapshots).</summary>
public class GatewayApiTests
{
    [Test]
    public void A_route_reads_from_the_JSON_the_API_server_sends()
    {
        var route = KubernetesJson.Deserialize<V1HttpRoute>("""
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
             "metadata":{"name":"docs","namespace":"shop","resourceVersion":"42"},
             "spec":{"parentRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"public","namespace":"gw","sectionName":"https"}],
                     "hostnames":["docs.example.com"],"rules":[{"backendRefs":[{"name":"docs","port":80}]}]},
             "status":{"parents":[]}}
            """);

        Assert.That(route.Metadata.Name, Is.EqualTo("docs"));
        Assert.That(route.Spec!.Hostnames, Is.EqualTo(new[] { "docs.example.com" }));
        var parent = route.Spec.ParentRefs!.Single();
        Assert.That((parent.Name, parent.Namespace, parent.SectionName, parent.IsGateway), Is.EqualTo(("public", "gw", "https", true)));
    }

    [Test]
    public void A_gateway_reads_its_status_addresses_from_JSON()
    {
        var gateway = KubernetesJson.Deserialize<V1Gateway>("""
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"public","namespace":"gw"},
             "spec":{"gatewayClassName":"envoy","listeners":[]},
             "status":{"addresses":[{"type":"Hostname","value":"envoy.gw.minilb"}],"conditions":[]}}
            """);

        Assert.That(gateway.Status!.Addresses!.Single().Value, Is.EqualTo("envoy.gw.minilb"));
    }

    [Test]
    public void Parents_of_other_kinds_are_not_gateways()
    {
        Assert.That(new ParentReference { Kind = "Service", Group = "", Name = "mesh" }.IsGateway, Is.False);
        Assert.That(new ParentReference { Name = "public" }.IsGateway, Is.True, "group and kind default to Gateway");
    }

    [Test]
    public void The_types_carry_their_Kubernetes_identity()
    {
        var entity = typeof(V1Gateway).GetCustomAttributes(typeof(k8s.Models.KubernetesEntityAttribute), false).Cast<k8s.Models.KubernetesEntityAttribute>().Single();

        Assert.That((entity.Group, entity.Kind, entity.PluralName), Is.EqualTo((GatewayApi.Group, "Gateway", "gateways")));
        Assert.That(new V1GrpcRoute().Kind, Is.EqualTo("GRPCRoute"));
        Assert.That(new V1Alpha2TlsRoute().ApiVersion, Is.EqualTo("gateway.networking.k8s.io/v1alpha2"));
    }

    [Test]
    public void The_exclude_annotation_survives_the_source_generated_reader_the_informers_use()
    {
        var route = System.Text.Json.JsonSerializer.Deserialize("""
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
             "metadata":{"name":"docs","namespace":"shop","annotations":{"minilb/exclude":"true"}},
             "spec":{"parentRefs":[{"name":"public","namespace":"gw"}],"hostnames":["docs.example.com"]}}
            """, GatewayJson.Default.V1HttpRoute)!;
        var model = PublishedModel.Of(
            TestObjects.Service("gw", "envoy"), TestObjects.Slice("gw", "envoy", "envoy-1", "IPv4", TestObjects.Ready("10.244.1.80")),
            TestObjects.Gateway("gw", "public", "envoy.gw.minilb"), route);

        Assert.That(model.Current.Find(ARSoft.Tools.Net.DomainName.Parse("docs.example.com")).Status, Is.EqualTo(NameStatus.Outside));
    }
}
