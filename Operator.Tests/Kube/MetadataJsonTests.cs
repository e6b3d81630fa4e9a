using System.Text.Json;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>
/// The projections read only the labels and annotations minilb uses (<see cref="KeptKeysConverter"/>): the rest of
/// a helm- or kubelet-written map is skipped, what minilb reads is kept, and a malformed kept entry is still an error.
/// </summary>
public class MetadataJsonTests
{
    private static ServiceView Service(string metadataExtra, string ports = "[]") => JsonSerializer.Deserialize(
        $$$"""{"metadata":{"name":"web","namespace":"shop",{{{metadataExtra}}}},"spec":{"type":"LoadBalancer","ports":{{{ports}}}}}""",
        ViewJson.Default.ServiceJson)!.ToView();

    [Test]
    public void A_Service_keeps_minilbs_annotations_among_helms_and_kubectls()
    {
        var service = Service("""
            "labels":{"app.kubernetes.io/name":"web","helm.sh/chart":"web-1.2.3"},
            "annotations":{"meta.helm.sh/release-name":"web","minilb/host":"www.example.test, shop.example.test",
              "kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"annotations\":{\"minilb/host\":\"old.example.test\"}}}",
              "minilb/exclude":"false","minilb/serve":"true"}
            """);

        Assert.That(service.Aliases, Is.EqualTo(new[] { "www.example.test", "shop.example.test" }));
        Assert.That(service.Exclude, Is.EqualTo("false"));
        Assert.That(service.Serve, Is.EqualTo("true"));
    }

    [Test]
    public async Task A_LIST_read_as_a_stream_in_small_pieces_keeps_the_same_keys()
    {
        // As the informer reads a LIST: DeserializeAsync over the response stream, which hands converters a reader
        // that is not the final block. A tiny buffer splits the maps across reads.
        var items = string.Join(",", Enumerable.Range(0, 20).Select(i => $$$"""
            {"metadata":{"name":"web{{{i}}}","namespace":"shop","labels":{"app.kubernetes.io/name":"web","helm.sh/chart":"web-1.2.3"},
              "annotations":{"meta.helm.sh/release-name":"web","minilb/host":"w{{{i}}}.example.test","nested":{"a":[1,2,{"b":"c"} ] } } },
             "spec":{"type":"LoadBalancer","ports":[{"port":80,"targetPort":8080}]}}
            """));
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes($$"""{"metadata":{"resourceVersion":"7"},"items":[{{items}}]}"""));

        var options = new JsonSerializerOptions(ViewJson.Default.Options) { DefaultBufferSize = 16 };
        var shape = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<ListJson<ServiceJson>>)options.GetTypeInfo(typeof(ListJson<ServiceJson>));

        var list = await JsonSerializer.DeserializeAsync(stream, shape);

        var views = list!.Items!.Select(s => s.ToView()).ToList();
        Assert.That(views.Select(v => v.Aliases.Single()), Is.EqualTo(Enumerable.Range(0, 20).Select(i => $"w{i}.example.test")));
        Assert.That(views.Select(v => v.Ports.Single().TargetPort), Is.All.EqualTo("8080"));
    }

    [Test]
    public void A_Service_with_only_other_annotations_has_no_aliases_and_no_flags()
    {
        var service = Service("""
            "annotations":{"meta.helm.sh/release-name":"web","external-dns.alpha.kubernetes.io/hostname":"www.example.test",
              "nested":{"not":"a string"}}
            """);

        Assert.That(service.Aliases, Is.Empty);
        Assert.That(service.Exclude, Is.Null);
        Assert.That(service.Serve, Is.Null);
    }

    [Test]
    public void A_kept_annotation_that_is_not_a_string_is_an_error()
    {
        var e = Assert.Throws<JsonException>(() => Service("""
            "annotations":{"minilb/host":42}
            """));

        Assert.That(e!.Message, Does.Contain("minilb/host"));
    }

    [Test]
    public void A_slice_keeps_its_Service_name_label_among_the_controllers_labels()
    {
        var slice = JsonSerializer.Deserialize("""
            {"metadata":{"name":"web-abc12","namespace":"shop","labels":{"app.kubernetes.io/instance":"web",
              "endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"web"},
              "annotations":{"endpoints.kubernetes.io/last-change-trigger-time":"2026-10-01T08:00:05Z"}},
             "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.12"],"conditions":{"ready":true}}]}
            """, ViewJson.Default.EndpointSliceJson)!.ToView();

        Assert.That(slice.ServiceName, Is.EqualTo("web"));
        Assert.That(slice.Endpoints.Single().Addresses, Is.EqualTo(new[] { "10.244.1.12" }));
    }

    [Test]
    public void A_slice_without_the_Service_name_label_belongs_to_no_Service()
    {
        var slice = JsonSerializer.Deserialize("""
            {"metadata":{"name":"manual","namespace":"shop","labels":{"app":"web"}},
             "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.12"]}]}
            """, ViewJson.Default.EndpointSliceJson)!.ToView();

        Assert.That(slice.ServiceName, Is.Null);
        Assert.That(slice.Endpoints, Is.Empty, "a slice no Service claims keeps no endpoints");
    }

    [Test]
    public void A_target_port_reads_as_written_whether_a_number_or_a_name()
    {
        var service = Service("\"uid\":\"u1\"", """[{"name":"http","port":80,"targetPort":8080},{"name":"web","port":443,"targetPort":"https"},{"port":53}]""");

        Assert.That(service.Ports.Select(p => p.TargetPort), Is.EqualTo(new[] { "8080", "https", null }));
    }

    [Test]
    public void A_target_port_that_is_neither_a_number_nor_a_name_is_an_error() =>
        Assert.Throws<JsonException>(() => Service("\"uid\":\"u1\"", """[{"port":80,"targetPort":{"port":8080}}]"""));

    [Test]
    public void A_Service_model_projects_the_same_way_as_its_JSON()
    {
        var model = new k8s.Models.V1Service
        {
            Metadata = new k8s.Models.V1ObjectMeta
            {
                Name = "web", NamespaceProperty = "shop",
                Annotations = new Dictionary<string, string> { ["minilb/host"] = "www.example.test", ["meta.helm.sh/release-name"] = "web" },
            },
            Spec = new k8s.Models.V1ServiceSpec { Ports = [new k8s.Models.V1ServicePort { Port = 80, TargetPort = 8080 }] },
        };

        var view = ServiceView.From(model);

        Assert.That(view.Aliases, Is.EqualTo(new[] { "www.example.test" }));
        Assert.That(view.Ports.Single().TargetPort, Is.EqualTo("8080"));
    }
}
