using System.Net;
using k8s;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Cli;

/// <summary>/healthz, /readyz and /metrics of a running `minilb run`, over HTTP, as the kubelet and Prometheus see them.</summary>
public sealed class RunMonitoringTests : OperatorFixture
{
    [Test]
    public async Task Run_serves_health_readiness_and_metrics_from_its_informers_controllers_and_DNS()
    {
        var dns = FreePort();
        var health = FreePort();
        await CreateConfigAsync(port: dns);
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.0.6");

        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--leader-election", "false",
            "--health-listen", $"127.0.0.1:{health}", "--log-format", "json");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        await WaitUntilAsync(async () => await StatusAsync(http, "/readyz") == HttpStatusCode.OK, $"ready; stderr: {run.Error}");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");
        Assert.That(await AddressesAsync(dns, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5", "10.244.0.6" }));
        Assert.That(await QueryAsync(dns, "nope.default.minilb"), Has.Property("ReturnCode").EqualTo(ARSoft.Tools.Net.Dns.ReturnCode.NxDomain));

        Assert.That(await StatusAsync(http, "/healthz"), Is.EqualTo(HttpStatusCode.OK));
        var verbose = await http.GetStringAsync("/readyz?verbose");
        Assert.That(verbose, Does.Contain("[+]caches-synced ok").And.Contain("[+]dns-bound ok").And.Contain("[+]informers ok"));

        var metrics = await http.GetStringAsync("/metrics");
        TestContext.Out.WriteLine(string.Join("\n", metrics.Split('\n').Where(l => l.StartsWith("minilb_"))));
        Assert.Multiple(() =>
        {
            Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NOERROR\",transport=\"udp\"}"));
            Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NXDOMAIN\",transport=\"udp\"} 1"));
            Assert.That(metrics, Does.Contain("minilb_dns_response_duration_seconds_bucket{transport=\"udp\""));
            Assert.That(metrics, Does.Contain("minilb_served_services 1"));
            Assert.That(metrics, Does.Contain("minilb_served_endpoints 2"));
            Assert.That(metrics, Does.Contain("minilb_leader 1"));
            Assert.That(metrics, Does.Contain("minilb_reconciles_total{controller=\"Service\",result=\"success\"}"));
            Assert.That(metrics, Does.Contain("minilb_reconcile_duration_seconds_count{controller=\"MiniLbConfig\"}"));
        });
        Assert.That(await run.StopAsync(), Is.Zero);
    }

    [Test]
    public async Task Dropped_watches_and_expired_resource_versions_are_counted()
    {
        var health = FreePort();
        await CreateConfigAsync();
        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--leader-election", "false", "--health-listen", $"127.0.0.1:{health}");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        await WaitUntilAsync(async () => await StatusAsync(http, "/readyz") == HttpStatusCode.OK, $"ready; stderr: {run.Error}");
        await CreateServiceAsync("default", "web");
        // Ready means synced, not watching yet: a fault aimed at a watch that is not open would hit its first open instead.
        await WaitUntilAsync(() => Task.FromResult(Server.Store.OpenWatchesOf("/services") > 0), "the Services watch is open");

        // The Services watch is dropped and its resumption answered 410 Gone, as when the server's history moved on: a relist.
        Server.Faults.FailNext(1, 410, r => r.Path.Value!.EndsWith("/services", StringComparison.Ordinal) && r.Query["watch"] == "true");
        Server.CloseWatches();

        await WaitUntilAsync(async () => (await http.GetStringAsync("/metrics")) is var metrics
            && metrics.Contains("minilb_watch_restarts_total{resource=\"services\"}")
            && metrics.Contains("minilb_watch_relists_total{resource=\"services\"}"), "watch restarts and relists of Services are counted");
    }

    [Test]
    public async Task Readiness_fails_naming_the_reason_while_DNS_cannot_listen()
    {
        using var taken = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)taken.Client.LocalEndPoint!).Port;
        var health = FreePort();
        await CreateConfigAsync(port: port);

        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--leader-election", "false", "--health-listen", $"127.0.0.1:{health}");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        await WaitUntilAsync(async () => await StatusAsync(http, "/healthz") == HttpStatusCode.OK, $"alive; stderr: {run.Error}");
        // Once the caches are synced, the configuration is tried and its listen address found taken.
        await WaitUntilAsync(async () => (await (await http.GetAsync("/readyz?verbose")).Content.ReadAsStringAsync()).Contains("[+]caches-synced ok"),
            "caches synced");

        var ready = await http.GetAsync("/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain("[-]dns-bound failed").And.Contain("already in use"));
    }

    [Test]
    public async Task A_health_address_given_but_taken_is_bad_input()
    {
        var health = FreePort();
        using var taken = new HttpListener();
        taken.Prefixes.Add($"http://127.0.0.1:{health}/");
        taken.Start();

        var run = await CliRun.RunAsync("run", "--kubeconfig", Kubeconfig, "--health-listen", $"127.0.0.1:{health}");

        Assert.That(run.ExitCode, Is.EqualTo(MiniLb.Operator.Cli.CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("--health-listen"));
    }

    private static async Task<HttpStatusCode?> StatusAsync(HttpClient http, string path)
    {
        try
        {
            return (await http.GetAsync(path)).StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
