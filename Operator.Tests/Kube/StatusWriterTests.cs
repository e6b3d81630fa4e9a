using MiniLb.Operator.Controllers;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using static MiniLb.Operator.Tests.Kube.ScriptedApiServer;

namespace MiniLb.Operator.Tests.Kube;

public sealed class StatusWriterTests
{
    private ScriptedApiServer server = null!;

    [SetUp]
    public async Task Start() => server = await StartAsync();

    [TearDown]
    public async Task Stop() => await server.DisposeAsync();

    [Test]
    public async Task A_Service_status_change_is_a_merge_patch_on_the_status_subresource()
    {
        server.Always(_ => true, Json("""{"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"shop"}}"""));
        var writer = Writer(leader: true);
        var service = new V1Service { Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop" }, Status = new V1ServiceStatus() };

        var sent = await writer.PatchServiceAsync(service, Node(service.Status), Node(Hostname("web.shop.minilb")), CancellationToken.None);

        Assert.That(sent, Is.True);
        var request = server.Requests.Single();
        Assert.That(request.Method, Is.EqualTo("PATCH"));
        Assert.That(request.Path, Is.EqualTo("/api/v1/namespaces/shop/services/web/status"));
        Assert.That(request.ContentType, Does.StartWith("application/merge-patch+json"));
        Assert.That(request.Body, Is.EqualTo("""{"status":{"loadBalancer":{"ingress":[{"hostname":"web.shop.minilb"}]}}}"""));
    }

    [Test]
    public async Task Nothing_is_sent_when_the_status_already_matches_or_this_replica_is_not_the_leader()
    {
        var service = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop" },
            Status = Hostname("web.shop.minilb"),
        };

        Assert.That(await Writer(leader: true).PatchServiceAsync(service, Node(service.Status), Node(Hostname("web.shop.minilb")), CancellationToken.None), Is.False);
        Assert.That(await Writer(leader: false).PatchServiceAsync(service, Node(service.Status), Node(Hostname("web.shop.lan")), CancellationToken.None), Is.False);
        Assert.That(server.Requests, Is.Empty);
    }

    [Test]
    public async Task A_MiniLbConfig_status_patch_sends_only_the_changed_fields()
    {
        server.Always(_ => true, Json("""{"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfig","metadata":{"name":"default"}}"""));
        var config = new MiniLbConfig
        {
            Metadata = new V1ObjectMeta { Name = "default", Generation = 2 },
            Status = new MiniLbConfigStatus { ObservedGeneration = 1, ServedServices = 3 },
        };

        await Writer(leader: true).PatchStatusAsync(config, new MiniLbConfigStatus
        {
            ObservedGeneration = 2,
            ServedServices = 3,
            Routes = [new NodeRoute { Node = "n1", PodCidr = "10.244.1.0/24", Via = "192.168.1.11" }],
        }, CancellationToken.None);

        var request = server.Requests.Single();
        Assert.That(request.Path, Is.EqualTo("/apis/minilb.io/v1alpha1/minilbconfigs/default/status"));
        Assert.That(request.ContentType, Does.StartWith("application/merge-patch+json"));
        Assert.That(request.Body, Is.EqualTo("""{"status":{"observedGeneration":2,"routes":[{"node":"n1","podCIDR":"10.244.1.0/24","via":"192.168.1.11"}]}}"""));
    }

    private StatusWriter Writer(bool leader) =>
        new(server.Client(), leader ? new AlwaysLeader() : new TestLeadership(), new CapturingLogger<StatusWriter>());

    private static V1ServiceStatus Hostname(string hostname) =>
        new() { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Hostname = hostname }] } };

    private static System.Text.Json.Nodes.JsonNode? Node(object? value) =>
        value is null ? null : System.Text.Json.Nodes.JsonNode.Parse(k8s.KubernetesJson.Serialize(value));
}
