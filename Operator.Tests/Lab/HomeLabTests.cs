using System.Globalization;
using System.Text.Json;
using k8s;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Cluster;
using MiniLb.Operator.Tests.EndToEnd;
using MiniLb.Operator.Tests.Routes;

namespace MiniLb.Operator.Tests.Lab;

/// <summary>
/// The whole data path with the programs a home lab runs (docs/lab.md): a client gets its routes over DHCP from
/// dnsmasq, asks the router's resolver, and reaches pods on three nodes directly; minilb (the NativeAOT binary)
/// runs on node 1 against the test API server, which the lab fills as the endpoint-slice controller would. The
/// short version runs in `make test`; `make lab` (MINILB_LAB=full) runs the same scenarios with the default TTL,
/// more rounds and the baseline with node liveness off, and prints the figures.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Lab")]
public sealed class HomeLabTests
{
    private static readonly bool Full = Environment.GetEnvironmentVariable("MINILB_LAB") == "full";

    /// <summary>Short: a 2 s TTL keeps `make test` quick; full: minilb's default, as users run it.</summary>
    private static readonly int Ttl = Full ? MiniLbConfigSpec.DefaultTtl : 2;

    private static readonly TextWriter Out = TestContext.Progress;

    private TestApiServer server = null!;
    private Kubernetes client = null!;
    private HomeLab lab = null!;
    private string binary = null!;
    private string kubeconfig = null!;
    private string routerRoutes = "";
    private string clientRoutes = "";

    private static string Minilb => HomeLab.NodeIp(1);

    [OneTimeSetUp]
    public async Task StartLab()
    {
        if (Netns.Unavailable() is { } why)
            Assert.Ignore($"the home lab cannot run here: {why}");
        foreach (var tool in new[] { "/usr/sbin/dnsmasq", "/usr/sbin/unbound", "/usr/sbin/dhclient", "/usr/bin/dig" })
        {
            if (!File.Exists(tool) && !File.Exists("/sbin/" + Path.GetFileName(tool)))
                Assert.Ignore($"the home lab needs {Path.GetFileName(tool)} (Debian: dnsmasq-base, unbound, isc-dhcp-client, dnsutils; .ci/run installs them)");
        }
        binary = AotBinary.Locate();

        server = new TestApiServer(new TestApiServerOptions { BookmarkInterval = TimeSpan.FromSeconds(1) });
        await server.StartAsync();
        client = server.CreateClient();
        await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
            await File.ReadAllTextAsync(Path.Combine(TestObjects.RepositoryRoot, "config", "crd", "minilb.io_minilbconfigs.yaml"))));
        await WriteClusterAsync();

        lab = await HomeLab.CreateAsync(Out);
        // minilb runs on node 1 as a hostNetwork pod would; the API server is reached through a port forward there.
        lab.Keep(new PortForward(lab.Node(1), new(System.Net.IPAddress.Loopback, server.Uri.Port), new(System.Net.IPAddress.Loopback, server.Uri.Port)));
        kubeconfig = server.WriteKubeconfig(Path.Combine(lab.Directory, "kubeconfig"));
        var minilb = lab.Start(lab.Node(1), binary, "run", "--kubeconfig", kubeconfig, "--leader-election", "false");
        await HomeLab.WaitForAsync(async () => (await DigAsync(Minilb, "web.default.minilb")).Length == 3, "minilb answering on node 1",
            () => minilb.Error + string.Join('\n', minilb.Lines.TakeLast(20)));

        var ip = (await Netns.RunAsync(binary, ["routes", "--kubeconfig", kubeconfig, "--format", "ip"])).Check("minilb routes --format ip");
        await lab.ApplyRouterRoutesAsync(ip.Output.Split('\n'));
        routerRoutes = (await Netns.RunAsync("ip", ["-n", lab.Router, "route"])).Output + (await Netns.RunAsync("ip", ["-n", lab.Router, "-6", "route"])).Output;
        var dnsmasq = (await Netns.RunAsync(binary, ["routes", "--kubeconfig", kubeconfig, "--format", "dnsmasq"])).Check("minilb routes --format dnsmasq");
        await lab.StartDnsmasqAsync(Minilb, dnsmasq.Output.Split('\n').Single(l => l.StartsWith("dhcp-option=121,", StringComparison.Ordinal)));
        clientRoutes = await lab.ClientDhcpAsync();
        Out.WriteLine($"lab: routes applied on the router ({ip.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} from `minilb routes --format ip`):\n{routerRoutes}");
        Out.WriteLine($"lab: the client's routes after DHCP (dhclient):\n{clientRoutes}");
    }

    [OneTimeTearDown]
    public async Task StopLab()
    {
        if (lab is not null)
            await lab.DisposeAsync();
        client?.Dispose();
        if (server is not null)
            await server.DisposeAsync();
    }

    [Test, Order(1)]
    public async Task Scenario1_the_client_reaches_every_ready_pod_through_the_router()
    {
        var requests = 200;
        // Spaced so that the resolver's cache (TTL) turns over several times: each turn brings a new shuffle.
        var spread = await RequestsAsync($"{HomeLab.RouterIp}:53", "web.default.minilb", "A", requests, TimeSpan.FromMilliseconds(Full ? 500 : 100));
        Out.WriteLine($"scenario 1: {requests} requests to web.default.minilb through dnsmasq reached {Describe(spread)}");
        Assert.That(spread.Keys, Is.EquivalentTo(new[] { "web-1", "web-2", "web-3" }), "every ready pod, nothing failed");
        Assert.That(spread.Values, Has.All.GreaterThanOrEqualTo(requests / 3 / 5), "each pod gets at least a fifth of its fair share");

        foreach (var alias in new[] { "shop.lab.minilb", "www.lab.minilb" })
        {
            var reached = await RequestsAsync($"{HomeLab.RouterIp}:53", alias, "A", 10, TimeSpan.FromMilliseconds(50));
            Out.WriteLine($"scenario 1: {alias} reached {Describe(reached)}");
            Assert.That(reached.Keys, Is.SubsetOf(new[] { "web-1", "web-2", "web-3" }).And.Not.Empty, alias);
        }
        var v6 = await RequestsAsync($"{HomeLab.RouterIp}:53", "web.default.minilb", "AAAA", 5, TimeSpan.FromMilliseconds(50));
        Out.WriteLine($"scenario 1: AAAA web.default.minilb reached {Describe(v6)}");
        Assert.That(v6, Is.EqualTo(new Dictionary<string, int> { ["web-v6"] = 5 }));
    }

    [Test, Order(2)]
    public async Task Scenario2_the_client_routes_came_from_option_121_and_go_straight_to_the_node()
    {
        for (var n = 1; n <= HomeLab.Nodes; n++)
            Assert.That(clientRoutes, Does.Contain($"198.18.{n}.0/24 via {HomeLab.NodeIp(n)} dev lan0"), $"node {n}'s pod network from option 121");
        Assert.That(clientRoutes, Does.Contain($"default via {HomeLab.RouterIp} dev lan0"), "the default route the option carries too");
        var way = await lab.ClientRouteToAsync("198.18.2.10");
        Out.WriteLine($"scenario 2: ip route get 198.18.2.10 → {way}");
        Assert.That(way, Does.Contain($"via {HomeLab.NodeIp(2)} dev lan0"), "straight to node 2, not through the router");

        // Forty nodes: more than one option can carry; dnsmasq must still start with the printed line.
        var snapshot = await FortyNodesAsync();
        var printed = (await Netns.RunAsync(binary, ["routes", "--snapshot", snapshot, "--format", "dnsmasq"])).Check("minilb routes --format dnsmasq (40 nodes)");
        var conf = Path.Combine(lab.Directory, "forty.conf");
        await File.WriteAllLinesAsync(conf, printed.Output.Split('\n')
            .Select(l => l.StartsWith("dhcp-option=121,", StringComparison.Ordinal) ? l + ",0.0.0.0/0," + HomeLab.RouterIp : l));
        var check = await Netns.RunAsync("dnsmasq", ["--test", "--conf-file=" + conf]);
        Out.WriteLine($"scenario 2: 40 nodes: minilb says \"{printed.Error.Trim()}\"; dnsmasq --test: {check.Error.Trim()}");
        Assert.That(check.Code, Is.Zero, check.Error);
        Assert.That(printed.Error, Does.Contain("9 of 40 IPv4 routes do not fit in DHCP option 121"));
    }

    [Test, Order(2)]
    public async Task Scenario2_forty_nodes_through_isc_dhcpd_all_routes_arrive()
    {
        // ISC dhcpd splits the long option (RFC 3396) and dhclient joins it again.
        if (!File.Exists("/usr/sbin/dhcpd"))
            Assert.Ignore("ISC dhcpd is not installed (Debian: isc-dhcp-server; .ci/run installs it)");
        var snapshot = await FortyNodesAsync();
        var isc = (await Netns.RunAsync(binary, ["routes", "--snapshot", snapshot, "--format", "isc-dhcpd"])).Check("minilb routes --format isc-dhcpd (40 nodes)");
        var routes = await lab.IscDhcpdLeaseAsync(string.Join('\n', isc.Output.Split('\n')
            .Select(l => DhcpOption121Tests.WithIscDefaultRoute(l, "0, 192, 0, 2, 1")))); 
        var received = routes.Split('\n').Count(l => l.StartsWith("198.19.", StringComparison.Ordinal));
        Out.WriteLine($"scenario 2: 40 nodes through ISC dhcpd (minilb routes --format isc-dhcpd): dhclient installed {received} pod routes");
        Assert.That(received, Is.EqualTo(40), routes);
    }

    [Test, Order(3)]
    public async Task Scenario3_the_same_path_through_unbound()
    {
        await lab.StartUnboundAsync(Minilb);
        var reached = await RequestsAsync($"{HomeLab.RouterIp}:5300", "web.default.minilb", "A", 60, TimeSpan.FromSeconds(Ttl / 10.0));
        Out.WriteLine($"scenario 3: 60 requests through Unbound (validating, domain-insecure) reached {Describe(reached)}");
        Assert.That(reached.Keys, Is.EquivalentTo(new[] { "web-1", "web-2", "web-3" }));
    }

    [Test, Order(4)]
    public async Task Scenario4_a_pod_that_stops_being_ready_is_left_alone_within_ttl_plus_one_second()
    {
        var rounds = Full ? 3 : 1;
        var figures = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var seconds = await FailoverAsync("198.18.1.10", () => SetReadyAsync("web-1", false), TimeSpan.FromSeconds(Ttl + 4));
            figures.Add(seconds);
            await SetReadyAsync("web-1", true);
            await HomeLab.WaitForAsync(async () => (await DigAsync(Minilb, "web.default.minilb")).Length == 3, "web-1 back");
        }
        Out.WriteLine($"scenario 4: pod not ready → last request to it after {Figures(figures)} (TTL {Ttl} s; target ≤ TTL + 1 s)");
        Assert.That(figures, Has.All.LessThanOrEqualTo(Ttl + 1));
    }

    [Test, Order(5)]
    public async Task Scenario5_a_dead_node_is_left_alone_within_ttl_plus_three_seconds_and_answered_again_when_back()
    {
        var rounds = Full ? 3 : 1;
        var deaths = new List<double>();
        var returns = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            deaths.Add(await FailoverAsync("198.18.2.10", () => lab.NodeLinkAsync(2, up: false), TimeSpan.FromSeconds(Ttl + 6)));
            var back = DateTime.UtcNow;
            await lab.NodeLinkAsync(2, up: true);
            await HomeLab.WaitForAsync(async () => (await DigAsync(Minilb, "web.default.minilb")).Contains("198.18.2.10"), "node 2's pod answered again");
            returns.Add((DateTime.UtcNow - back).TotalSeconds);
        }
        Out.WriteLine($"scenario 5: node link down (API still says Ready) → last request to its pod after {Figures(deaths)} (TTL {Ttl} s; target ≤ TTL + 3 s)");
        Out.WriteLine($"scenario 5: node back → its pod in minilb's answers after {Figures(returns)} (target ≤ 3 s)");
        Assert.That(deaths, Has.All.LessThanOrEqualTo(Ttl + 3));
        Assert.That(returns, Has.All.LessThanOrEqualTo(3));
    }

    [Test, Order(6)]
    public async Task Scenario5_baseline_with_node_liveness_off()
    {
        if (!Full)
            Assert.Ignore("the 40 s baseline runs in `make lab` only (MINILB_LAB=full)");
        await PatchConfigAsync("""{"spec":{"nodeLiveness":{"enabled":false}}}""");
        await Task.Delay(TimeSpan.FromSeconds(2));
        // The lab plays the node lifecycle controller: node-monitor-grace-period (40 s) after the last heartbeat
        // the node is NotReady and its endpoints turn not ready.
        var grace = TimeSpan.FromSeconds(40);
        var seconds = await FailoverAsync("198.18.2.10", async () =>
        {
            await lab.NodeLinkAsync(2, up: false);
            _ = Task.Delay(grace).ContinueWith(_ => SetReadyAsync("web-2", false)).Unwrap();
        }, grace + TimeSpan.FromSeconds(Ttl + 4));
        Out.WriteLine($"scenario 5 baseline: node liveness off, node link down → last request to its pod after {seconds:0.0} s (grace period {grace.TotalSeconds:0} s, TTL {Ttl} s)");
        await lab.NodeLinkAsync(2, up: true);
        await SetReadyAsync("web-2", true);
        await PatchConfigAsync("""{"spec":{"nodeLiveness":{"enabled":true}}}""");
        Assert.That(seconds, Is.GreaterThan(grace.TotalSeconds));
    }

    /// <summary>A snapshot of forty nodes with a /24 pod network each (198.19.N.0/24 via 192.0.2.20+N).</summary>
    private async Task<string> FortyNodesAsync()
    {
        var snapshot = Path.Combine(lab.Directory, "forty-nodes.yaml");
        await File.WriteAllTextAsync(snapshot, string.Join("---\n", Enumerable.Range(0, 40).Select(i => $"""
            apiVersion: v1
            kind: Node
            metadata: {"{"}name: node-{i:D2}{"}"}
            spec: {"{"}podCIDRs: [198.19.{i}.0/24]{"}"}
            status: {"{"}addresses: [{"{"}type: InternalIP, address: 192.0.2.{20 + i}{"}"}]{"}"}

            """)));
        return snapshot;
    }

    /// <summary>
    /// Requests every 100 ms through the router's dnsmasq; once one of them went to <paramref name="address"/>,
    /// <paramref name="fault"/> happens. The seconds from the fault to the last request sent to that address.
    /// </summary>
    private async Task<double> FailoverAsync(string address, Func<Task> fault, TimeSpan observe)
    {
        var requests = lab.StartClient($"{HomeLab.RouterIp}:53", "web.default.minilb", "A", 100_000, TimeSpan.FromMilliseconds(100),
            httpTimeout: TimeSpan.FromSeconds(0.5));
        // Only a pod the client is using can show how long it keeps using it.
        await HomeLab.WaitForAsync(() => Task.FromResult(requests.Lines.Any(l => l.Contains($"\"{address}\"", StringComparison.Ordinal))),
            $"a request to {address} before the fault", () => requests.Error);
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        await fault();
        await Task.Delay(observe);
        await requests.DisposeAsync();
        var sent = requests.Lines.Select(l => JsonDocument.Parse(l).RootElement).Where(l => l.GetProperty("t").GetDouble() >= start).ToList();
        Assert.That(sent, Has.Count.GreaterThan(10), requests.Error);
        Assert.That(sent[^1].TryGetProperty("address", out var final) && final.GetString() != address, Is.True, "the client still asks at the end, and not the failed pod");
        var last = sent.LastOrDefault(l => l.TryGetProperty("address", out var a) && a.GetString() == address);
        return last.ValueKind == JsonValueKind.Undefined ? 0 : last.GetProperty("t").GetDouble() - start;
    }

    /// <summary>Which pod answered how many of <paramref name="count"/> requests (failures under "error: …").</summary>
    private async Task<Dictionary<string, int>> RequestsAsync(string resolver, string name, string type, int count, TimeSpan interval)
    {
        var requests = lab.StartClient(resolver, name, type, count, interval);
        await requests.WaitForExitAsync(TimeSpan.FromSeconds(count * interval.TotalSeconds + 60));
        return requests.Lines
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Select(l => l.TryGetProperty("pod", out var pod) ? pod.GetString()! : "error: " + (l.TryGetProperty("error", out var e) ? e.GetString() : "no address"))
            .GroupBy(p => p)
            .ToDictionary(g => g.Key, g => g.Count());
    }

    private async Task<string[]> DigAsync(string at, string name) =>
        (await Netns.ExecAsync(lab.Router, "dig", "@" + at, name, "+short", "+time=1", "+tries=1")).Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith(';')).ToArray();

    private static string Describe(Dictionary<string, int> reached) =>
        string.Join(", ", reached.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} ×{r.Value}"));

    private static string Figures(List<double> seconds) =>
        string.Join(", ", seconds.Select(s => s.ToString("0.0", CultureInfo.InvariantCulture) + " s"));

    /// <summary>The cluster the lab plays: three Nodes, Service web with a pod per node and an IPv6 pod, an Ingress host and a minilb/host alias.</summary>
    private async Task WriteClusterAsync()
    {
        for (var n = 1; n <= HomeLab.Nodes; n++)
        {
            var node = n == 3
                ? TestObjects.Node("node-3", [HomeLab.NodeIp(3), HomeLab.NodeIp6(3)], [HomeLab.PodCidr(3), "2001:db8:3::/64"])
                : TestObjects.Node($"node-{n}", [HomeLab.NodeIp(n)], [HomeLab.PodCidr(n)]);
            await client.CoreV1.CreateNodeAsync(node);
        }
        var config = new MiniLbConfig
        {
            Metadata = new V1ObjectMeta { Name = MiniLbConfig.DefaultName },
            Spec = new MiniLbConfigSpec { Ttl = Ttl, Listen = Minilb + ":53" },
        };
        await client.CustomObjects.CreateClusterCustomObjectAsync(JsonSerializer.SerializeToElement(config, EntityJson.Default.MiniLbConfig),
            MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural);
        await client.CoreV1.CreateNamespacedServiceAsync(TestObjects.Service("default", "web", hosts: "www.lab.minilb", ports: TestObjects.Port("http", 80)), "default");
        await client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("web-v4", "IPv4", Enumerable.Range(1, HomeLab.Nodes).Select(n => ($"node-{n}", HomeLab.PodsOf(n)[0]))), "default");
        await client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice("web-v6", "IPv6", [("node-3", HomeLab.PodsOf(3)[1])]), "default");
        // The status as the ingress controller would write it (a create ignores status, as kube-apiserver's does).
        var ingress = await client.NetworkingV1.CreateNamespacedIngressAsync(TestObjects.Ingress("default", "shop", ["shop.lab.minilb"]), "default");
        ingress.Status = TestObjects.Ingress("default", "shop", ["shop.lab.minilb"], "web.default.minilb").Status;
        await client.NetworkingV1.ReplaceNamespacedIngressStatusAsync(ingress, "shop", "default");
    }

    private static V1EndpointSlice Slice(string name, string family, IEnumerable<(string Node, (string Name, string Address) Pod)> pods) =>
        TestObjects.Slice("default", "web", name, family, pods.Select(p =>
        {
            var endpoint = TestObjects.Endpoint(p.Pod.Address);
            endpoint.NodeName = p.Node;
            endpoint.TargetRef = new V1ObjectReference { Kind = "Pod", Name = p.Pod.Name, NamespaceProperty = "default" };
            return endpoint;
        }), TestObjects.SlicePort("http", 80));

    /// <summary>The lab as the endpoint-slice controller: the pod's endpoint turns (not) ready.</summary>
    private async Task SetReadyAsync(string pod, bool ready)
    {
        var slice = await client.DiscoveryV1.ReadNamespacedEndpointSliceAsync("web-v4", "default");
        foreach (var endpoint in slice.Endpoints.Where(e => e.TargetRef?.Name == pod))
            endpoint.Conditions = new V1EndpointConditions { Ready = ready, Serving = ready, Terminating = false };
        await client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, "web-v4", "default");
    }

    private async Task PatchConfigAsync(string json) =>
        await client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch(json, V1Patch.PatchType.MergePatch),
            MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural, MiniLbConfig.DefaultName);
}
