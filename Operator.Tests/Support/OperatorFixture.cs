using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Observability;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests;

/// <summary>
/// A test API server with the MiniLbConfig CRD, operators started in-process against it over the real protocol,
/// and ways to watch what a user would see: DNS answers on loopback, statuses, events.
/// </summary>
public abstract class OperatorFixture : CliFixture
{
    /// <summary>Generous: the CI machine is small and shared.</summary>
    internal static readonly TimeSpan Eventually = TimeSpan.FromSeconds(10);

    private readonly List<(LoadBalancerOperator Operator, CancellationTokenSource Stop, Task Run)> running = [];

    /// <summary>Every line the operators logged, formatted.</summary>
    protected CapturingLogger Logs { get; } = new();

    protected override TestApiServerOptions Options => new() { BookmarkInterval = TimeSpan.FromSeconds(1) };

    internal static InformerOptions FastInformers => new()
    {
        Reconnect = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), Jitter: 0.2),
        DiscoveryInterval = TimeSpan.FromSeconds(1),
    };

    [SetUp]
    public async Task InstallCrd()
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
            await File.ReadAllTextAsync(Path.Combine(TestObjects.RepositoryRoot, "config", "crd", "minilb.io_minilbconfigs.yaml")));
        await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
    }

    [TearDown]
    public async Task StopOperators()
    {
        var stopping = running.ToList();
        running.Clear();
        foreach (var (_, stop, run) in stopping)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));
            stop.Dispose();
        }
    }

    /// <summary>Starts an operator and waits until its informers listed everything.</summary>
    /// <param name="link">The operator's connection to the API server, which a test may cut (a partition, or a crash as the cluster sees it).</param>
    protected async Task<LoadBalancerOperator> StartOperatorAsync(OperatorOptions? options = null, ApiLink? link = null)
    {
        var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.IncludeScopes = false; })
            .SetMinimumLevel(LogLevel.Information).AddFilter("MiniLb", LogLevel.Information).AddFilter((category, _) => category is null || !category.Contains("DnsHost")).AddProvider(Logs));
        var client = new Kubernetes(Server.ClientConfiguration(), link ?? new ApiLink());
        var minilb = new LoadBalancerOperator(client, (options ?? new OperatorOptions()) with
        {
            Informers = FastInformers,
            Defaults = new MiniLbConfigSpec { Listen = $"127.0.0.1:{FreePort()}" },
            RetryInterval = TimeSpan.FromSeconds(1),
            // Test nodes have made-up addresses: never send a probe to them.
            NodeProbe = options?.NodeProbe ?? new Liveness.FakeNodeProbe(),
        }, loggers);
        var stop = new CancellationTokenSource();
        var run = minilb.RunAsync(stop.Token);
        running.Add((minilb, stop, run));
        OperatorHealth.Register(readiness[minilb] = new HealthChecks(), minilb, run);
        using var deadline = new CancellationTokenSource(Eventually * 2);
        await minilb.Host.WaitForSyncAsync(deadline.Token);
        return minilb;
    }

    private readonly Dictionary<LoadBalancerOperator, HealthChecks> readiness = [];

    /// <summary>What the operator's /readyz would answer now: the checks `minilb run` serves (<see cref="OperatorHealth"/>).</summary>
    protected HealthReport ReadinessOf(LoadBalancerOperator minilb) => readiness[minilb].Report(Probe.Readiness);

    /// <summary>Stops one operator as a clean shutdown does (its lease is released).</summary>
    protected async Task StopOperatorAsync(LoadBalancerOperator minilb)
    {
        var entry = running.Single(r => r.Operator == minilb);
        running.Remove(entry);
        await entry.Stop.CancelAsync();
        await entry.Run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// A port free for UDP and TCP on 127.0.0.1 right now, below Linux's ephemeral range (32768–60999): a port the
    /// kernel handed out could be taken again by any test's outgoing connection before the operator binds it
    /// (seen in CI: a freed "squatted" port was in use by a TCP client a moment later).
    /// </summary>
    internal static int FreePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 32768);
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 100)
            {
            }
        }
    }

    protected async Task CreateConfigAsync(string name = "default", string domain = "minilb", int ttl = 5, int? port = null)
    {
        var config = new MiniLbConfig
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new MiniLbConfigSpec { Domain = domain, Ttl = ttl, Listen = $"127.0.0.1:{port ?? FreePort()}" },
        };
        var body = JsonSerializer.SerializeToElement(config, EntityJson.Default.MiniLbConfig);
        await Client.CustomObjects.CreateClusterCustomObjectAsync(body, MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural);
    }

    protected async Task EditConfigAsync(string specJson, string name = "default") =>
        await Client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch($$"""{"spec":{{specJson}}}""", V1Patch.PatchType.MergePatch),
            MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural, name);

    protected async Task<MiniLbConfig> ReadConfigAsync(string name = "default")
    {
        var json = (JsonElement)await Client.CustomObjects.GetClusterCustomObjectAsync(MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural, name);
        return json.Deserialize(EntityJson.Default.MiniLbConfig)!;
    }

    protected static Condition? ConditionOf(MiniLbConfig config, string type) => Conditions.Find(config.Status?.Conditions, type);

    protected async Task CreateServiceAsync(string ns, string name, string? loadBalancerClass = "minilb", params V1ServicePort[] ports) =>
        await Client.CoreV1.CreateNamespacedServiceAsync(TestObjects.Service(ns, name, loadBalancerClass: loadBalancerClass, ports: ports), ns);

    protected async Task DeleteServiceAsync(string ns, string name)
    {
        try
        {
            await Client.CoreV1.DeleteNamespacedServiceAsync(name, ns);
        }
        catch (JsonException)
        {
            // The server answers an immediate delete with a Status, which this typed client method cannot read as a Service.
        }
    }

    /// <summary>Creates or replaces the service's one EndpointSlice with these ready addresses.</summary>
    protected async Task SetEndpointsAsync(string ns, string service, params string[] addresses)
    {
        var slice = TestObjects.Slice(ns, service, service + "-1", "IPv4", TestObjects.Ready(addresses));
        try
        {
            var current = await Client.DiscoveryV1.ReadNamespacedEndpointSliceAsync(slice.Metadata.Name, ns);
            current.Endpoints = slice.Endpoints;
            await Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(current, slice.Metadata.Name, ns);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, ns);
        }
    }

    protected async Task<string?> HostnameOfAsync(string ns, string name) =>
        (await Client.CoreV1.ReadNamespacedServiceAsync(name, ns)).Status?.LoadBalancer?.Ingress is { Count: > 0 } ingress
            ? string.Join(",", ingress.Select(i => i.Hostname))
            : null;

    protected async Task<IList<Corev1Event>> EventsAsync(string ns = "default") =>
        (await Client.CoreV1.ListNamespacedEventAsync(ns)).Items;

    /// <summary>One UDP query to 127.0.0.1:<paramref name="port"/>; null when nothing answered within a second.</summary>
    internal static async Task<DnsMessage?> QueryAsync(int port, string name, RecordType type = RecordType.A)
    {
        using var client = new DnsClient([IPAddress.Loopback], [new UdpClientTransport(port)], disposeTransport: true, queryTimeout: 1000);
        try
        {
            return await client.ResolveAsync(DomainName.Parse(name), type);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>The A records DNS answers now, sorted; null when no answer came.</summary>
    internal static async Task<string[]?> AddressesAsync(int port, string name)
    {
        // UDP may lose a datagram on a loaded machine: a server that answers at all answers one of three tries.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (await QueryAsync(port, name) is { } answer)
                return answer.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()).Order(StringComparer.Ordinal).ToArray();
        }
        return null;
    }

    /// <summary>Polls until <paramref name="condition"/> holds (no fixed sleeps), failing with the last value's description.</summary>
    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Eventually);
        while (true)
        {
            if (await condition())
                return;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"not within {(timeout ?? Eventually).TotalSeconds:0} s: {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>The port an operator's DNS answers on.</summary>
    internal static int DnsPort(LoadBalancerOperator minilb) => minilb.Config.Host!.EndPoints[0].Port;

    /// <summary>The usual start: a MiniLbConfig, one operator, Service default/web with one ready endpoint that DNS answers.</summary>
    protected async Task<(LoadBalancerOperator Operator, int Port)> ServingWebAsync()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "web answers");
        return (minilb, port);
    }
}

/// <summary>An operator's HTTP link to the API server; while <see cref="Cut"/>, every request fails as if the server were unreachable.</summary>
public sealed class ApiLink : DelegatingHandler
{
    private readonly CancellationTokenSource crashed = new();
    private bool cut;

    public bool Cut
    {
        get => Volatile.Read(ref cut);
        set => Volatile.Write(ref cut, value);
    }

    /// <summary>The process dies as the API server sees it: requests in flight are abandoned, and nothing more comes.</summary>
    public void Crash()
    {
        Cut = true;
        crashed.Cancel();
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Cut)
            throw new HttpRequestException("connection refused (the test cut this operator's link)");
        using var sending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, crashed.Token);
        return await base.SendAsync(request, sending.Token);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            crashed.Dispose();
        base.Dispose(disposing);
    }
}
