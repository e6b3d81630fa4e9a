using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;
using Testcontainers.K3s;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// The main flows against a real Kubernetes (K3s in a container): hostname, routes, DNS from EndpointSlices,
/// a live domain edit. They need a Docker engine and are skipped, saying so, where none is reachable.
/// </summary>
[Category("K3s")]
[NonParallelizable]
public sealed class K3sTests
{
    private K3sContainer? k3s;
    private Kubernetes client = null!;
    private LoadBalancerOperator? minilb;
    private CancellationTokenSource? stop;
    private Task running = Task.CompletedTask;
    private int port;

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        try
        {
            k3s = new K3sBuilder("rancher/k3s:v1.34.1-k3s1").Build();
            await k3s.StartAsync();
        }
        catch (Exception e) when (e is DockerUnavailableException or DockerConfigurationException || e.InnerException is DockerUnavailableException)
        {
            Assert.Ignore($"K3s tests need a Docker engine and none is reachable here ({e.Message.Split('\n')[0].Trim()}); they run unchanged where one is");
        }
        using var kubeconfig = new MemoryStream(Encoding.UTF8.GetBytes(await k3s.GetKubeconfigAsync()));
        client = new Kubernetes(await KubernetesClientConfiguration.BuildConfigFromConfigFileAsync(kubeconfig));
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
            await File.ReadAllTextAsync(Path.Combine(TestObjects.RepositoryRoot, "config", "crd", "minilb.io_minilbconfigs.yaml")));
        await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
        await OperatorFixture.WaitUntilAsync(async () =>
        {
            try
            {
                await client.CustomObjects.ListClusterCustomObjectAsync(MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural);
                return true;
            }
            catch (k8s.Autorest.HttpOperationException)
            {
                return false;
            }
        }, "the CRD is established", TimeSpan.FromSeconds(60));

        port = OperatorFixture.FreePort();
        var config = new MiniLbConfig { Metadata = new V1ObjectMeta { Name = "default" }, Spec = new MiniLbConfigSpec { Listen = $"127.0.0.1:{port}" } };
        await client.CustomObjects.CreateClusterCustomObjectAsync(JsonSerializer.SerializeToElement(config, EntityJson.Default.MiniLbConfig),
            MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural);
        minilb = new LoadBalancerOperator(client, new OperatorOptions { Informers = OperatorFixture.FastInformers }, NullLoggerFactory.Instance);
        stop = new CancellationTokenSource();
        running = minilb.RunAsync(stop.Token);
    }

    [OneTimeTearDown]
    public async Task StopCluster()
    {
        if (k3s is null)
            return;
        if (stop is not null)
        {
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
            stop.Dispose();
        }
        if (minilb is not null)
            await minilb.DisposeAsync();
        client?.Dispose();
        await k3s.DisposeAsync();
    }

    private async Task<MiniLbConfig> ConfigAsync() =>
        ((JsonElement)await client.CustomObjects.GetClusterCustomObjectAsync(MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural, "default"))
        .Deserialize(EntityJson.Default.MiniLbConfig)!;

    [Test, Order(1)]
    public async Task The_node_route_is_published()
    {
        var node = (await client.CoreV1.ListNodeAsync()).Items.Single();
        await OperatorFixture.WaitUntilAsync(async () => (await ConfigAsync()).Status?.Routes?.Any(r => r.Node == node.Metadata.Name && r.PodCidr == node.Spec.PodCIDR) == true,
            "the K3s node's podCIDR in status.routes", TimeSpan.FromSeconds(60));
    }

    [Test, Order(2)]
    public async Task A_Service_gets_its_hostname_and_DNS_follows_its_EndpointSlice()
    {
        await client.CoreV1.CreateNamespacedServiceAsync(TestObjects.Service("default", "web"), "default");
        var slice = TestObjects.Slice("default", "web", "web-manual", "IPv4", TestObjects.Ready("10.42.0.50"));
        slice.Metadata.Labels["endpointslice.kubernetes.io/managed-by"] = "minilb-tests";
        await client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, "default");

        await OperatorFixture.WaitUntilAsync(async () => (await client.CoreV1.ReadNamespacedServiceAsync("web", "default")).Status?.LoadBalancer?.Ingress?.SingleOrDefault()?.Hostname == "web.default.minilb",
            "the hostname", TimeSpan.FromSeconds(30));
        await OperatorFixture.WaitUntilAsync(async () => await OperatorFixture.AddressesAsync(port, "web.default.minilb") is ["10.42.0.50"], "DNS answers");

        slice.Endpoints = TestObjects.Ready("10.42.0.50", "10.42.0.51").ToList();
        await client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, "web-manual", "default");
        await OperatorFixture.WaitUntilAsync(async () => await OperatorFixture.AddressesAsync(port, "web.default.minilb") is ["10.42.0.50", "10.42.0.51"], "DNS follows");
    }

    [Test, Order(3)]
    public async Task A_domain_edit_restamps_the_Service()
    {
        await client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch("""{"spec":{"domain":"k3s.test"}}""", V1Patch.PatchType.MergePatch),
            MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural, "default");

        await OperatorFixture.WaitUntilAsync(async () => (await client.CoreV1.ReadNamespacedServiceAsync("web", "default")).Status?.LoadBalancer?.Ingress?.SingleOrDefault()?.Hostname == "web.default.k3s.test",
            "the new hostname", TimeSpan.FromSeconds(30));
        Assert.That(Conditions.Find((await ConfigAsync()).Status?.Conditions, ConditionTypes.Ready)?.Status, Is.EqualTo(Condition.True));
    }
}
