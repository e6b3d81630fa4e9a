using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using MiniLb.Operator.Tests.Chart;
using MiniLb.Operator.Tests.Cluster;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Container;

/// <summary>
/// The image of `make image` in a real container runtime (podman + runc), run the way the chart runs the pod: its user,
/// read-only root filesystem, no capabilities, no privilege escalation and the memory limit of values.yaml, all read
/// from the rendered chart. .NET sizes its GC from the cgroup's limit, so only here does a footprint figure prove that
/// the pod survives under the chart's resources (issue 16).
/// </summary>
[NonParallelizable]
[Category("Container")]
public sealed class ContainerTests : OperatorFixture
{
    private const int Services = 1000;
    private readonly List<string> containers = [];

    // TLS with the cluster CA, as every API server is: the figures then include OpenSSL and the TLS connection.
    protected override TestApiServerOptions Options => new() { BookmarkInterval = TimeSpan.FromSeconds(1), Https = true };

    [SetUp]
    public Task RequireImage() => Podman.RequireImageAsync();

    [TearDown]
    public async Task RemoveContainers()
    {
        foreach (var name in containers)
            await Podman.PodmanAsync("rm", "--force", "--time", "0", name);
    }

    [Test]
    public async Task Image_reports_the_version_carries_its_labels_has_no_shell_and_fits_in_28_MB()
    {
        var version = await Podman.PodmanAsync(["run", "--rm", "--pull=never", .. Podman.Limits, Podman.Image, "--version"]);
        var labels = JsonNode.Parse(await Podman.InspectAsync(Podman.Image, "{{json .Config.Labels}}"))!;
        var size = long.Parse(await Podman.InspectAsync(Podman.Image, "{{.Size}}"));
        var shell = await Podman.PodmanAsync(["run", "--rm", "--pull=never", .. Podman.Limits, "--entrypoint", "/bin/sh", Podman.Image, "-c", "true"]);

        TestContext.Out.WriteLine($"image {Podman.Image}: {size / 1e6:0.0} MB, user {await Podman.InspectAsync(Podman.Image, "{{.Config.User}}")}");
        Assert.Multiple(() =>
        {
            Assert.That(version.Stdout.Trim(), Is.EqualTo(Podman.Version), version.ToString());
            Assert.That((string?)labels["org.opencontainers.image.version"], Is.EqualTo(Podman.Version));
            Assert.That((string?)labels["org.opencontainers.image.revision"], Does.Match("^[0-9a-f]{40}$"));
            Assert.That((string?)labels["org.opencontainers.image.source"], Is.Not.Empty);
            Assert.That(shell.ExitCode, Is.Not.Zero, "the image has no shell");
            // 25 MB until the binary kept its type data undehydrated (2.4 MB more on disk for 3-5 MiB less memory
            // in every pod: Operator.csproj, docs/building.md); the position-independent build still fits in 25.
            Assert.That(size, Is.LessThanOrEqualTo(28_000_000), "image size");
        });
    }

    [Test]
    public async Task The_same_inputs_give_the_same_digest()
    {
        var digests = new List<string>();
        for (var build = 0; build < 2; build++)
        {
            var output = Directory.CreateTempSubdirectory("minilb-image-").FullName;
            try
            {
                var start = new ProcessStartInfo("bash", [Path.Combine(HelmChart.RepositoryRoot, "image", "build.sh")])
                {
                    WorkingDirectory = HelmChart.RepositoryRoot, RedirectStandardOutput = true, RedirectStandardError = true,
                    Environment = { ["OUT"] = output, ["LOAD"] = "0" },
                };
                using var process = Process.Start(start)!;
                var stderr = process.StandardError.ReadToEndAsync();
                await process.StandardOutput.ReadToEndAsync();
                await process.WaitForExitAsync();
                Assert.That(process.ExitCode, Is.Zero, await stderr);
                digests.Add(File.ReadAllText(Path.Combine(output, $"minilb-{Podman.Version}.digest")).Trim());
            }
            finally
            {
                Directory.Delete(output, recursive: true);
            }
        }

        Assert.That(digests[1], Is.EqualTo(digests[0]).And.StartsWith("sha256:"));
    }

    [Test]
    public async Task Serve_answers_DNS_from_a_mounted_snapshot()
    {
        var (pod, container) = await ChartPodAsync();
        var (port, health) = (FreePort(), FreePort());
        var snapshot = RepositoryFile("config/samples/cluster-snapshot.yaml");

        var name = await StartAsync([.. Podman.PodOptions(pod, container), "--volume", $"{snapshot}:/etc/minilb/snapshot.yaml:ro"],
            "serve", "--snapshot", "/etc/minilb/snapshot.yaml", "--listen", $"127.0.0.1:{port}", "--health-listen", $"127.0.0.1:{health}");
        await WaitUntilAsync(async () => (await LogsAsync(name)).Contains("Press Ctrl-C to stop.", StringComparison.Ordinal), "serve starts in the container");
        var logs = await LogsAsync(name);
        var served = EndToEnd.AotBinary.ServedNames(logs).First();

        var answer = await AddressesAsync(port, served);
        var memory = await Podman.MemoryAsync(name);
        TestContext.Out.WriteLine($"serve in the container: {served} → {string.Join(", ", answer ?? [])}; cgroup memory {Describe(memory)} " +
                                  $"of {container["resources"]!["limits"]!["memory"]}");
        Assert.Multiple(async () =>
        {
            Assert.That(answer, Is.Not.Null.And.Not.Empty, $"{served} answers from the container\n{logs}");
            Assert.That(await GetAsync(health, "/readyz"), Is.EqualTo(HttpStatusCode.OK));
        });
    }

    /// <summary>
    /// TLS to the API server needs the image's libssl and libcrypto, which .NET loads only at run time: `ldd` does not
    /// list them, so only a handshake shows they are there. openssl s_server stands in for the API server (it answers
    /// an HTML page, which minilb then rejects as not JSON: proof that the handshake and the certificate check passed).
    /// </summary>
    [Test]
    public async Task Run_speaks_TLS_to_the_API_server_with_the_image_libssl()
    {
        if (!File.Exists("/usr/bin/openssl"))
            Assert.Ignore("openssl is not installed: it serves the TLS endpoint this test connects to");
        var port = FreePort();
        var certificate = Path.Combine(Scratch, "server.pem");
        var key = Path.Combine(Scratch, "server.key");
        using var made = Process.Start(new ProcessStartInfo("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]) { RedirectStandardError = true })!;
        await made.StandardError.ReadToEndAsync();
        await made.WaitForExitAsync();
        using var server = Process.Start(new ProcessStartInfo("openssl", ["s_server", "-accept", $"127.0.0.1:{port}", "-cert", certificate, "-key", key, "-www", "-quiet"])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            await WaitUntilAsync(async () =>
            {
                using var tcp = new System.Net.Sockets.TcpClient();
                try { await tcp.ConnectAsync(IPAddress.Loopback, port); return true; } catch (System.Net.Sockets.SocketException) { return false; }
            }, "openssl s_server listens");

            var trusted = await RunAgainstAsync(port, Convert.ToBase64String(await File.ReadAllBytesAsync(certificate)));
            var untrusted = await RunAgainstAsync(port, caData: null);

            Assert.Multiple(() =>
            {
                Assert.That(trusted.Stderr, Does.Contain("is an invalid start of a value"), $"the handshake passed and the answer was read\n{trusted}");
                Assert.That(untrusted.Stderr, Does.Contain("The SSL connection could not be established"), $"an unknown certificate is refused\n{untrusted}");
            });
        }
        finally
        {
            server.Kill();
        }
    }

    private async Task<Podman.Result> RunAgainstAsync(int port, string? caData)
    {
        var kubeconfig = WriteFile($"tls-{caData is null}.kubeconfig", $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: tls
              cluster:
                server: https://127.0.0.1:{{port}}
            {{(caData is null ? "" : $"    certificate-authority-data: {caData}")}}
            contexts:
            - name: tls
              context: {cluster: tls, user: tls}
            current-context: tls
            users:
            - name: tls
              user: {token: test}
            """);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(kubeconfig, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var (pod, container) = await ChartPodAsync();
        return await Podman.PodmanAsync(["run", "--rm", "--pull=never", .. Podman.PodOptions(pod, container), "--volume", $"{kubeconfig}:/etc/minilb/kubeconfig:ro",
            Podman.Image, "run", "--kubeconfig", "/etc/minilb/kubeconfig", "--health-listen", "off"]);
    }

    [Test]
    public async Task Run_serves_1000_realistic_Services_under_the_chart_memory_limit_without_OOM_kill_or_restart()
    {
        var (pod, container, port, health) = await PrepareRunAsync();
        var created = Stopwatch.StartNew();
        await RealisticCluster.CreateAsync(Client, Services, nodes: 12);
        TestContext.Out.WriteLine($"{Services} Services ({Services / 5} served, {RealisticCluster.EndpointsPerService} endpoints each) and 12 Nodes created in {created.Elapsed.TotalSeconds:0.0} s");

        var name = await StartRunAsync(pod, container);
        var started = Stopwatch.StartNew();
        await WaitUntilAsync(async () => await RunningAsync(name) && await ServedServicesAsync(health) == Services / 5, $"{Services / 5} Services served",
            TimeSpan.FromMinutes(3));
        TestContext.Out.WriteLine($"start → {Services / 5} Services served: {started.Elapsed.TotalSeconds:0.0} s");
        var idle = await Podman.MemoryAsync(name);

        // Clients for a while: every served name 20 times over, from 4 concurrent resolvers.
        var answered = 0;
        var load = Stopwatch.StartNew();
        await Parallel.ForAsync(0, 4, async (worker, _) =>
        {
            for (var q = worker; q < 4000; q += 4)
            {
                var i = q % (Services / 5) * 5;
                if (await QueryAsync(port, $"{RealisticCluster.NameOf(i)}.{RealisticCluster.NamespaceOf(i % RealisticCluster.Namespaces)}.minilb") is { AnswerRecords.Count: RealisticCluster.EndpointsPerService })
                    Interlocked.Increment(ref answered);
            }
        });
        var loaded = await Podman.MemoryAsync(name);
        var limit = (string)container["resources"]!["limits"]!["memory"]!;

        TestContext.Out.WriteLine($"run in the container, limit {limit}: idle {Describe(idle)}; after {answered} answers in {load.Elapsed.TotalSeconds:0.0} s {Describe(loaded)} " +
                                  $"(load average {File.ReadAllText("/proc/loadavg").Trim()})");
        Assert.Multiple(async () =>
        {
            Assert.That(await GetAsync(health, "/healthz"), Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await GetAsync(health, "/readyz"), Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await MetricsAsync(health), Does.Contain("minilb_build_info{version=\"" + Podman.Version + "\"} 1"));
            Assert.That(answered, Is.GreaterThan(3900), "queries answered with all 5 endpoints (UDP on a loaded machine may lose a few)");
            Assert.That(await Podman.InspectAsync(name, "{{.State.OOMKilled}}"), Is.EqualTo("false"), $"OOM-killed under the chart's limit {limit}");
            Assert.That(await RunningAsync(name) ? await Podman.InspectAsync(name, "{{.RestartCount}}") : "stopped", Is.EqualTo("0"), "no restart");
        });
    }

    [Test]
    public async Task SIGTERM_stops_the_container_cleanly_within_the_chart_grace_period()
    {
        var (pod, container, port, health) = await PrepareRunAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        var name = await StartRunAsync(pod, container);
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "DNS answers from the container");
        var grace = int.Parse((string)pod["terminationGracePeriodSeconds"]!);

        // podman stop sends SIGTERM and SIGKILL after --time, as the kubelet does after terminationGracePeriodSeconds.
        var clock = Stopwatch.StartNew();
        var stop = await Podman.PodmanAsync("stop", "--time", grace.ToString(), name);
        var stopped = clock.Elapsed;

        var logs = await LogsAsync(name);
        TestContext.Out.WriteLine($"stopped in {stopped.TotalSeconds:0.0} s of a {grace} s grace period");
        Assert.Multiple(async () =>
        {
            Assert.That(stop.ExitCode, Is.Zero, stop.ToString());
            Assert.That(await Podman.InspectAsync(name, "{{.State.ExitCode}}"), Is.EqualTo("0"), $"a clean exit, not SIGKILL (137)\n{logs}");
            Assert.That(stopped, Is.LessThan(TimeSpan.FromSeconds(grace)), "stopped within the grace period");
            Assert.That(logs, Does.Contain("Stopping: /readyz fails now").And.Contain("Stopped."));
        });
    }

    /// <summary>The pod spec and minilb's container as <c>helm template</c> renders them from values.yaml (and <paramref name="sets"/>).</summary>
    private static async Task<(JsonObject Pod, JsonObject Container)> ChartPodAsync(params string[] sets)
    {
        // MINILB_CHART_SET (e.g. "resources.limits.memory=40Mi") tries other values, to find where the footprint ends.
        var extra = Environment.GetEnvironmentVariable("MINILB_CHART_SET") is { Length: > 0 } set ? set.Split(',') : [];
        var rendered = await HelmChart.TemplateAsync([.. sets, .. extra]);
        return ((JsonObject)rendered.Workload["spec"]!["template"]!["spec"]!, rendered.Container);
    }

    /// <summary>The chart's pod with its health port free on this machine, and a MiniLbConfig for DNS on another free port.</summary>
    private async Task<(JsonObject Pod, JsonObject Container, int Port, int Health)> PrepareRunAsync()
    {
        var (port, health) = (FreePort(), FreePort());
        var (pod, container) = await ChartPodAsync($"monitoring.port={health}");
        await CreateConfigAsync(port: port);
        // The namespace of the chart's release holds the leader-election Lease.
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = HelmChart.Namespace } });
        return (pod, container, port, health);
    }

    /// <summary>`run` with the chart's arguments and environment, plus the test API server's kubeconfig mounted in.</summary>
    private async Task<string> StartRunAsync(JsonObject pod, JsonObject container)
    {
        // The container's user (65532) reads it through the bind mount.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Kubeconfig, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        string[] downwardApi = ["--env", "POD_NAME=minilb-0", "--env", $"POD_NAMESPACE={HelmChart.Namespace}"];
        var args = container["args"]!.AsArray().Select(a => (string)a!).ToArray();
        return await StartAsync([.. Podman.PodOptions(pod, container), .. downwardApi, "--volume", $"{Kubeconfig}:/etc/minilb/kubeconfig:ro"],
            [.. args, "--kubeconfig", "/etc/minilb/kubeconfig"]);
    }

    private async Task<string> StartAsync(string[] options, params string[] args)
    {
        var name = $"minilb-test-{Guid.NewGuid():N}"[..24];
        containers.Add(name);
        var run = await Podman.PodmanAsync(["run", "--detach", "--pull=never", "--name", name, .. options, Podman.Image, .. args]);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        return name;
    }

    /// <summary>True while the container runs; fails the test at once, saying how it ended, when it stopped (an OOM kill, say).</summary>
    private static async Task<bool> RunningAsync(string name)
    {
        if (await Podman.InspectAsync(name, "{{.State.Running}}") == "true")
            return true;
        var exit = await Podman.InspectAsync(name, "{{.State.ExitCode}}");
        // Nothing else sends SIGKILL here; podman's OOMKilled flag stays false under cgroup v1, the kernel log says "Memory cgroup out of memory".
        var why = exit == "137" ? "SIGKILL: the kernel's OOM killer at the memory limit" : $"OOM-killed {await Podman.InspectAsync(name, "{{.State.OOMKilled}}")}";
        Assert.Fail($"the container stopped: exit code {exit} ({why})\n{await LogsAsync(name)}");
        return false;
    }

    private static async Task<string> LogsAsync(string name)
    {
        var logs = await Podman.PodmanAsync("logs", name);
        return logs.Stdout + logs.Stderr;
    }

    private static string RepositoryFile(string relative) => Path.Combine(HelmChart.RepositoryRoot, relative);

    private static async Task<HttpStatusCode> GetAsync(int port, string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return (await http.GetAsync($"http://127.0.0.1:{port}{path}")).StatusCode;
    }

    private static async Task<string> MetricsAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
    }

    private static async Task<int> ServedServicesAsync(int port)
    {
        try
        {
            return Regex.Match(await MetricsAsync(port), @"^minilb_served_services (\d+)", RegexOptions.Multiline) is { Success: true } m ? int.Parse(m.Groups[1].Value) : -1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return -1;
        }
    }

    private static string Describe((long Usage, long Peak, long Resident) memory) =>
        $"usage {memory.Usage / 1048576.0:0.0} MiB, peak {memory.Peak / 1048576.0:0.0} MiB, rss {memory.Resident / 1048576.0:0.0} MiB";
}
