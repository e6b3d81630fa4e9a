using System.Diagnostics;
using System.Net;
using k8s;
using MiniLb.Operator.Cli;
using MiniLb.Operator.Tests.Cluster;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// The NativeAOT binary as users run it: a separate process, talking DNS, HTTP and the Kubernetes API. Trimming can
/// break what the JIT build does fine (reflection-based JSON, YAML), so these run the shipped artifact itself.
/// </summary>
public sealed class AotBinaryTests : OperatorFixture
{
    [Test]
    public async Task Serve_answers_names_from_the_snapshot_to_DnsClient_and_dig()
    {
        var port = FreePort();
        await using var serve = AotBinary.Start("serve", "--snapshot", AotBinary.RepositoryFile("config/samples/cluster-snapshot.yaml"),
            "--listen", $"127.0.0.1:{port}");
        await WaitUntilAsync(() => Task.FromResult(serve.HasExited || serve.Output.Contains("Press Ctrl-C to stop.")), "serve starts", TimeSpan.FromMinutes(1));
        await serve.WaitForOutputAsync("Press Ctrl-C to stop.");
        var idle = serve.ResidentBytes();
        var name = AotBinary.ServedNames(serve.Output).First();

        var answer = await AddressesAsync(port, name);
        Assert.That(answer, Is.Not.Null.And.Not.Empty, $"{name} answers with addresses");
        var dig = await DigAsync(port, name);
        Assert.That(dig.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(), Is.EqualTo(answer), "dig sees the same addresses");

        for (var i = 0; i < 500; i++)
            Assert.That(await QueryAsync(port, name), Is.Not.Null);
        var serving = serve.ResidentBytes();
        TestContext.Out.WriteLine($"AOT serve: binary {new FileInfo(AotBinary.Locate()).Length / 1048576.0:0.0} MiB, RSS idle {idle / 1048576.0:0.0} MiB, after 500 queries {serving / 1048576.0:0.0} MiB");
        Assert.That(await serve.StopAsync(), Is.Zero, serve.Error);
    }

    [Test]
    public async Task Run_stamps_the_hostname_answers_the_ready_endpoints_follows_changes_and_publishes_routes()
    {
        var port = FreePort();
        var health = FreePort();
        await CreateConfigAsync(port: port);
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");

        await using var run = AotBinary.Start("run", "--kubeconfig", Kubeconfig, "--leader-election", "false",
            "--health-listen", $"127.0.0.1:{health}");
        await run.WaitForOutputAsync("minilb running");
        Assert.That(run.Output, Does.Contain("ip route add 10.244.0.0/24 via 192.168.1.11"), "the routes are printed at start");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "DNS answers the ready endpoint");
        var idle = run.ResidentBytes();

        var clock = Stopwatch.StartNew();
        await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.1.9");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5", "10.244.1.9"], "the new endpoint answers");
        var shown = clock.Elapsed;
        Assert.That(shown, Is.LessThan(TimeSpan.FromSeconds(1)), "an EndpointSlice change shows in DNS within a second");

        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes is [{ Node: "node-a", PodCidr: "10.244.0.0/24", Via: "192.168.1.11" }],
            "the routes are in the MiniLbConfig status");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var ready = await http.GetAsync($"http://127.0.0.1:{health}/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), await ready.Content.ReadAsStringAsync());
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{health}/metrics");
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NOERROR\",transport=\"udp\"}"));
        Assert.That(metrics, Does.Contain("minilb_served_services 1"));
        var serving = run.ResidentBytes();

        TestContext.Out.WriteLine($"AOT run: endpoint change in DNS after {shown.TotalMilliseconds:0} ms; RSS idle {idle / 1048576.0:0.0} MiB, serving {serving / 1048576.0:0.0} MiB");
        Assert.That(await run.StopAsync(), Is.Zero, run.Error);
        Assert.That(run.Output, Does.Contain("Stopped."));
    }

    [Test]
    public async Task Run_exits_2_naming_a_kubeconfig_that_is_not_one()
    {
        var broken = WriteFile("broken", "clusters: [not, a, kubeconfig");

        var (code, _, error) = await AotBinary.RunAsync("run", "--kubeconfig", broken);

        Assert.That(code, Is.EqualTo(CommandLine.BadInput));
        Assert.That(error, Does.StartWith("minilb run: ").And.Contain(broken));
    }

    [Test]
    public async Task Routes_reads_a_live_cluster_through_the_kubeconfig()
    {
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));

        var (code, output, error) = await AotBinary.RunAsync("routes", "--kubeconfig", Kubeconfig, "--format", "dnsmasq");

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("dhcp-option=121,10.244.0.0/24,192.168.1.11"));
    }

    [Test]
    public async Task Manifests_says_it_needs_the_JIT_build()
    {
        var (code, _, error) = await AotBinary.RunAsync("manifests", "--output", Path.Combine(Scratch, "config"));

        Assert.That(code, Is.EqualTo(ManifestsCommand.NotAvailable));
        Assert.That(error, Does.Contain("make manifests"));
        Assert.That(Directory.Exists(Path.Combine(Scratch, "config")), Is.False, "nothing half-written");
    }

    private static async Task<string> DigAsync(int port, string name)
    {
        var dig = CliTool.Locate("dig");
        if (dig is null)
            Assert.Ignore("dig is not installed (apt-get install dnsutils)");
        using var process = Process.Start(new ProcessStartInfo(dig!, new[] { "@127.0.0.1", "-p", port.ToString(), name, "A", "+short", "+tries=3", "+time=2" })
        {
            RedirectStandardOutput = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }
}
