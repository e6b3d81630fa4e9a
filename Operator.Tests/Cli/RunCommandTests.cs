using k8s;
using MiniLb.Operator.Cli;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Cli;

/// <summary>`minilb run` and `minilb routes --kubeconfig` against the test API server.</summary>
public sealed class RunCommandTests : OperatorFixture
{
    [Test]
    public async Task Run_prints_the_routes_and_answers_DNS_until_stopped()
    {
        var port = FreePort();
        await CreateConfigAsync(port: port);
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");

        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--leader-election", "false");

        await WaitUntilAsync(() => Task.FromResult(run.Output.ToString().Contains("ip route add 10.244.0.0/24 via 192.168.1.11")),
            $"the routes are printed; stdout: {run.Output}; stderr: {run.Error}");
        Assert.That(run.Output.ToString(), Does.StartWith(MiniLb.Operator.Routes.RouteFormats.RouterHeading));
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "DNS answers");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");
        Assert.That(await run.StopAsync(), Is.Zero);
    }

    [Test]
    public async Task The_status_router_lines_are_what_minilb_routes_prints_for_the_same_nodes()
    {
        await CreateConfigAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-b", ["192.168.1.12", "fd00::12"], ["10.244.1.0/24", "fd00:10:244:1::/64"]));
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-c", ["192.168.1.13"], []));
        await StartOperatorAsync();
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Router?.Count == 3, "the routes of node-a and node-b in the status");

        var routes = await CliRun.RunAsync("routes", "--kubeconfig", Kubeconfig, "--format", "ip");

        Assert.That(routes.ExitCode, Is.Zero, routes.Error);
        Assert.That((await ReadConfigAsync()).Status!.Router, Is.EqualTo(routes.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.That(routes.Output, Does.Contain("ip route add fd00:10:244:1::/64 via fd00::12\n"), "both families, one line each");
    }

    [Test]
    public async Task Run_serves_readiness_and_metrics_with_the_chart_flags()
    {
        await CreateConfigAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        var health = FreePort();

        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--namespace", "default", "--leader-election", "true",
            "--health-listen", $"127.0.0.1:{health}", "--log-format", "json", "--log-level", "Warning");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}") };
        await WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/readyz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "/readyz answers 200");
        await WaitUntilAsync(async () => (await http.GetStringAsync("/metrics")).Contains("minilb_served_endpoints 1"), "the served endpoints gauge");
        Assert.That(await run.StopAsync(), Is.Zero);
    }

    [Test]
    public async Task Run_with_leader_election_takes_the_lease_in_the_given_namespace()
    {
        await CreateConfigAsync();
        await using var run = new CliRun.Serving("run", "--kubeconfig", Kubeconfig, "--namespace", "kube-system", "--leader-election-lease-duration", "45");

        await WaitUntilAsync(async () => (await Client.CoordinationV1.ListNamespacedLeaseAsync("kube-system")).Items
            .Any(l => l.Metadata.Name == "minilb-leader" && !string.IsNullOrEmpty(l.Spec.HolderIdentity)), "the lease is held");
        var held = await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", "kube-system");
        Assert.That(held.Spec.LeaseDurationSeconds, Is.EqualTo(45), "the lease lasts what --leader-election-lease-duration says");
        Assert.That(await run.StopAsync(), Is.Zero);
        var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", "kube-system");
        Assert.That(lease.Spec.HolderIdentity, Is.Empty, "released on a clean stop");
    }

    [Test]
    public async Task Run_exits_2_when_the_API_server_cannot_be_reached()
    {
        var kubeconfig = Path.Combine(Scratch, "unreachable");
        await File.WriteAllTextAsync(kubeconfig, (await File.ReadAllTextAsync(Kubeconfig)).Replace(Server.Uri.Port.ToString(), FreePort().ToString()));

        var run = await CliRun.RunAsync("run", "--kubeconfig", kubeconfig);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("cannot reach the API server at"));
    }

    [TestCase("not: [a kubeconfig", "")]
    [TestCase(null, "does-not-exist")]
    public async Task Run_exits_2_for_a_kubeconfig_that_is_missing_or_invalid(string? text, string name)
    {
        var kubeconfig = Path.Combine(Scratch, name.Length == 0 ? "broken" : name);
        if (text is not null)
            await File.WriteAllTextAsync(kubeconfig, text);

        var run = await CliRun.RunAsync("run", "--kubeconfig", kubeconfig);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.StartWith("minilb run: ").And.Contain(kubeconfig));
    }

    [TestCase("--leader-election", "maybe")]
    [TestCase("--namespace", "Not_A_Namespace")]
    [TestCase("--no-such-flag", "x")]
    public async Task Run_exits_2_for_bad_flags(string flag, string value)
    {
        var run = await CliRun.RunAsync("run", "--kubeconfig", Kubeconfig, flag, value);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain(flag == "--namespace" ? value : "minilb"));
    }

    [TestCase(new[] { "--leader-election-lease-duration", "20" }, "--leader-election-renew-deadline 20 must be less than --leader-election-lease-duration 20")]
    [TestCase(new[] { "--leader-election-retry-period", "15" }, "--leader-election-renew-deadline 20 must be at least twice --leader-election-retry-period 15")]
    public async Task Run_exits_2_for_leader_election_timing_that_cannot_work(string[] flags, string message)
    {
        // Checked before the API server is asked anything: the kubeconfig need not even exist.
        var run = await CliRun.RunAsync(["run", "--kubeconfig", Path.Combine(Scratch, "no-such-kubeconfig"), .. flags]);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.StartWith($"minilb run: {message}"));
    }

    [Test]
    public async Task Run_exits_2_for_a_leader_election_period_out_of_range()
    {
        var run = await CliRun.RunAsync("run", "--kubeconfig", Path.Combine(Scratch, "no-such-kubeconfig"), "--leader-election-retry-period", "0");

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("--leader-election-retry-period 0: must be between 1 and 600 seconds"));
    }

    [Test]
    public async Task Run_with_leader_election_off_ignores_its_timing()
    {
        // The timing only matters with a Lease: no error for values that would not fit together.
        var run = await CliRun.RunAsync("run", "--kubeconfig", Path.Combine(Scratch, "no-such-kubeconfig"), "--leader-election", "false",
            "--leader-election-retry-period", "30");

        Assert.That(run.Error, Does.Not.Contain("leader-election-retry-period"));
        Assert.That(run.Error, Does.Contain("no-such-kubeconfig"));
    }

    [TestCase("--ttl", "0", "--ttl 0: must be 1–3600 seconds")]
    [TestCase("--ttl", "3601", "--ttl 3601: must be 1–3600 seconds")]
    [TestCase("--domain", "Not_A_Zone", "--domain Not_A_Zone: must be a DNS subdomain (RFC 1123)")]
    [TestCase("--domain", "", "--domain '': must not be empty")]
    [TestCase("--listen", "localhost:53", "--listen localhost:53: is not a listen address")]
    [TestCase("--load-balancer-class", "", "--load-balancer-class '': must be 1–253 characters")]
    public async Task Run_exits_2_naming_a_zone_flag_the_MiniLbConfig_schema_would_refuse(string flag, string value, string message)
    {
        // Checked before the API server is asked anything: the kubeconfig need not even exist.
        var run = await CliRun.RunAsync("run", "--kubeconfig", Path.Combine(Scratch, "no-such-kubeconfig"), flag, value);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.StartWith($"minilb run: {message}"));
    }

    [Test]
    public async Task Run_help_documents_the_zone_flags_with_their_defaults()
    {
        var help = await CliRun.RunAsync("run", "--help");

        Assert.That(help.ExitCode, Is.Zero);
        foreach (var flag in new[] { "--domain", "--ttl", "--listen", "--load-balancer-class" })
            Assert.That(help.Output, Does.Contain(flag));
        Assert.That(help.Output, Does.Contain("[default: 5]").And.Contain("[default: :53]").And.Contain("MiniLbConfig, when one exists, overrides"));
        Assert.That(help.Output, Does.Contain("--leader-election-lease-duration <SECONDS>").And.Contain("--leader-election-retry-period <SECONDS>"));
        Assert.That(help.Output, Does.Contain("[default: 30]").And.Contain("[default: 20]").And.Contain("[default: 10]"));
    }

    [Test]
    public async Task Routes_reads_the_nodes_of_a_live_cluster()
    {
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-b", ["192.168.1.12"], []));

        var run = await CliRun.RunAsync("routes", "--kubeconfig", Kubeconfig, "--format", "dnsmasq");

        Assert.That(run.ExitCode, Is.Zero, run.Error);
        Assert.That(run.Output, Does.Contain("dhcp-option=121,10.244.0.0/24,192.168.1.11"));
        Assert.That(run.Error, Does.Contain("node node-b gets no route"));
    }
}
