using k8s.Models;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Snapshot;

namespace MiniLb.Operator.Tests.Snapshot;

public class SnapshotReaderTests
{
    private const string File = "cluster.yaml";

    private static SnapshotException Error(string yaml) =>
        Assert.Throws<SnapshotException>(() => SnapshotReader.Parse(File, yaml))!;

    [Test]
    public void Reads_the_sample_snapshot_with_every_kind_minilb_uses()
    {
        var snapshot = SnapshotReader.Read(TestObjects.SampleSnapshot);

        var kinds = snapshot.Objects.Select(o => o.GetType()).Distinct().ToArray();
        Assert.That(kinds, Is.SupersetOf(new[] { typeof(V1Node), typeof(ServiceView), typeof(SliceView), typeof(V1Ingress), typeof(V1Gateway), typeof(V1HttpRoute) }));
        Assert.That(snapshot.Objects.OfType<V1Node>().Count(), Is.EqualTo(3));
        Assert.That(snapshot.Notes, Is.Empty);
    }

    [Test]
    public void Reads_a_kubectl_List()
    {
        var snapshot = SnapshotReader.Parse(File, """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: web, namespace: default}
              spec: {type: LoadBalancer, loadBalancerClass: minilb, ports: [{name: http, port: 80, targetPort: http}]}
            - apiVersion: discovery.k8s.io/v1
              kind: EndpointSlice
              metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
              addressType: IPv4
              endpoints: [{addresses: [10.244.0.1], conditions: {ready: true}}]
            metadata: {resourceVersion: ""}
            """);

        var service = snapshot.Objects.OfType<ServiceView>().Single();
        Assert.That(service.LoadBalancerClass, Is.EqualTo("minilb"));
        Assert.That(service.Ports.Single().TargetPort, Is.EqualTo("http"));
        Assert.That(snapshot.Objects.OfType<SliceView>().Single().Endpoints[0].Addresses, Is.EqualTo(new[] { "10.244.0.1" }));
    }

    [Test]
    public void Reads_a_List_whose_kind_comes_after_its_items_as_kubectl_writes_it()
    {
        var snapshot = SnapshotReader.Parse(File, """
            apiVersion: v1
            items:
            - apiVersion: v1
              kind: Node
              metadata: {name: node-1}
              spec: {podCIDR: 10.244.1.0/24}
            metadata: {resourceVersion: ""}
            kind: List
            """);

        Assert.That(snapshot.Objects.OfType<V1Node>().Single().Spec.PodCIDR, Is.EqualTo("10.244.1.0/24"));
        Assert.That(snapshot.Notes, Is.Empty, "the List itself is not an object to skip");
    }

    [Test]
    public void Anchors_and_aliases_repeat_the_anchored_node()
    {
        var snapshot = SnapshotReader.Parse(File, """
            kind: List
            apiVersion: v1
            items:
            - {apiVersion: v1, kind: Service, metadata: {name: web, namespace: shop}, spec: &lb {type: LoadBalancer, loadBalancerClass: minilb, ports: [{port: 80}]}}
            - {apiVersion: v1, kind: Service, metadata: {name: api, namespace: shop}, spec: *lb}
            """);

        Assert.That(snapshot.Objects.OfType<ServiceView>().Select(s => (s.Name, s.LoadBalancerClass, s.Ports.Single().Port)),
            Is.EqualTo(new[] { ("web", "minilb", 80), ("api", "minilb", 80) }));
    }

    [Test]
    public void An_item_of_a_List_that_is_not_an_object_is_refused_with_its_line()
    {
        var error = Error("""
            kind: List
            apiVersion: v1
            items:
            - {apiVersion: v1, kind: Node, metadata: {name: node-1}}
            - just a string
            """);

        Assert.That(error.Message, Is.EqualTo("cluster.yaml:5: expected a Kubernetes object, found the value 'just a string'"));
    }

    [Test]
    public void Reads_multi_document_yaml_with_Gateway_API_objects()
    {
        var snapshot = SnapshotReader.Parse(File, """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: public, namespace: gw}
            spec: {gatewayClassName: envoy, listeners: [{name: http, protocol: HTTP, port: 80}]}
            status: {addresses: [{type: Hostname, value: envoy.gw.minilb}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: docs, namespace: shop}
            spec: {parentRefs: [{name: public, namespace: gw}], hostnames: [docs.example.com]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: rpc, namespace: shop}
            spec: {parentRefs: [{name: public, namespace: gw}], hostnames: [rpc.example.com]}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TLSRoute
            metadata: {name: tls, namespace: shop}
            spec: {parentRefs: [{name: public, namespace: gw}], hostnames: [tls.example.com]}
            ---
            """);

        Assert.That(snapshot.Objects.OfType<V1Gateway>().Single().Status!.Addresses![0].Value, Is.EqualTo("envoy.gw.minilb"));
        Assert.That(snapshot.Objects.OfType<V1HttpRoute>().Single().Spec!.Hostnames, Is.EqualTo(new[] { "docs.example.com" }));
        Assert.That(snapshot.Objects.OfType<V1GrpcRoute>().Single().Spec!.ParentRefs![0].Name, Is.EqualTo("public"));
        Assert.That(snapshot.Objects.OfType<V1Alpha2TlsRoute>().Single().Metadata.Name, Is.EqualTo("tls"));
    }

    [Test]
    public void Other_kinds_are_skipped_with_a_note_naming_them()
    {
        var snapshot = SnapshotReader.Parse(File, """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec: {type: ClusterIP}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, namespace: default}
            data: {a: b}
            """);

        Assert.That(snapshot.Objects, Has.Count.EqualTo(1));
        Assert.That(snapshot.Notes.Single(), Does.Contain("cluster.yaml:6").And.Contain("ConfigMap default/settings"));
    }

    [Test]
    public void A_missing_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), "minilb-no-such-snapshot.yaml");
        var error = Assert.Throws<SnapshotException>(() => SnapshotReader.Read(path))!;

        Assert.That(error.Message, Does.Contain(path).And.Contain("no such file"));
    }

    [Test]
    public void Malformed_yaml_names_the_file_and_line()
    {
        var error = Error("""
            apiVersion: v1
            kind: Service
            metadata:
              name: web
             namespace: [default
            """);

        Assert.That(error.Message, Does.StartWith("cluster.yaml:").And.Contain("malformed YAML"));
        Assert.That(error.Message, Does.Match(@"cluster\.yaml:[45]:"));
    }

    [TestCase("apiVersion: v1\nmetadata: {name: web}\n", "cluster.yaml:1: object web: missing required field 'kind'", TestName = "No kind")]
    [TestCase("kind: Service\nmetadata: {name: web, namespace: shop}\nspec: {}\n", "cluster.yaml:1: Service shop/web: missing required field 'apiVersion'", TestName = "No apiVersion")]
    [TestCase("apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\nspec: {}\n", "cluster.yaml:1: Service shop/(no name): missing required field 'metadata.name'", TestName = "No name")]
    [TestCase("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n", "cluster.yaml:1: Service shop/web: missing required field 'spec'", TestName = "Service without spec")]
    [TestCase("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: shop}\nendpoints: []\n", "cluster.yaml:1: EndpointSlice shop/web-1: missing required field 'addressType'", TestName = "EndpointSlice without addressType")]
    [TestCase("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: shop}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}, {conditions: {ready: true}}]\n", "EndpointSlice shop/web-1: missing required field 'endpoints[1].addresses'", TestName = "Endpoint without addresses")]
    public void Objects_missing_required_fields_are_named(string yaml, string message)
    {
        Assert.That(Error(yaml).Message, Does.Contain(message));
    }

    [Test]
    public void The_line_points_at_the_object_inside_a_list()
    {
        var error = Error("""
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Node
              metadata: {name: node-1}
            - apiVersion: v1
              kind: Service
              metadata: {name: broken, namespace: default}
            """);

        Assert.That(error.Message, Does.StartWith("cluster.yaml:7: Service default/broken"));
    }

    [Test]
    public void A_field_of_the_wrong_shape_names_the_object()
    {
        var error = Error("""
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec:
              type: LoadBalancer
              ports: "not a list"
            """);

        Assert.That(error.Message, Does.StartWith("cluster.yaml:").And.Contain("Service default/web"));
    }

    [Test]
    public void A_document_that_is_not_an_object_is_refused()
    {
        Assert.That(Error("- just\n- a list\n").Message, Does.Contain("cluster.yaml:1").And.Contain("a list"));
    }
}
