using System.Diagnostics;
using System.Text.Json.Nodes;
using MiniLb.Operator.Tests.Chart;

namespace MiniLb.Operator.Tests.Container;

/// <summary>
/// The image <c>make image</c> builds, run by Debian's podman with runc (crun fails on these hybrid-cgroup machines) and
/// the explicit ulimits the machines need (docs/building.md). Tests are ignored, with the reason, where podman cannot
/// run a container.
/// </summary>
internal static class Podman
{
    private static readonly string[] Global = ["--runtime", "runc", "--cgroup-manager=cgroupfs"];
    private static readonly SemaphoreSlim Preparing = new(1, 1);
    private static string? unusable;
    private static bool ready;

    public static string Version => File.ReadAllText(Path.Combine(HelmChart.RepositoryRoot, "VERSION")).Trim();

    /// <summary>The name the archive of <c>make image</c> gives the image, the one Kubernetes resolves <c>minilb:VERSION</c> to.</summary>
    public static string Image => $"docker.io/library/minilb:{Version}";

    public static string Archive => Path.Combine(HelmChart.RepositoryRoot, "artifacts", "image", $"minilb-{Version}.tar");

    private static string Binary => Path.Combine(HelmChart.RepositoryRoot, "artifacts", "publish", "minilb");

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>
    /// Makes sure the image of the current binary is in podman's store (running <c>image/build.sh</c> when the archive
    /// is older than <c>artifacts/publish/minilb</c>) and that podman can run it; otherwise ignores the test saying why.
    /// </summary>
    public static async Task RequireImageAsync()
    {
        await Preparing.WaitAsync();
        try
        {
            if (!ready && unusable is null)
                unusable = await PrepareAsync();
            ready = unusable is null;
        }
        finally
        {
            Preparing.Release();
        }
        if (unusable is not null)
            Assert.Ignore(unusable);
    }

    private static async Task<string?> PrepareAsync()
    {
        if (!OnPath("podman") || !OnPath("runc") || !OnPath("skopeo"))
            return "podman, runc and skopeo are needed to build and run the image (`apt-get install podman runc skopeo`; .ci/run installs them)";
        if (!File.Exists(Binary))
            return "the NativeAOT binary artifacts/publish/minilb is absent: run `make publish` (`make test` builds it first)";
        if (!File.Exists(Archive) || File.GetLastWriteTimeUtc(Archive) < File.GetLastWriteTimeUtc(Binary))
        {
            var build = await RunAsync("bash", [Path.Combine(HelmChart.RepositoryRoot, "image", "build.sh")], TimeSpan.FromMinutes(5));
            if (build.ExitCode != 0)
                Assert.Fail($"image/build.sh failed:\n{build}");
        }
        else if ((await PodmanAsync("image", "exists", Image)).ExitCode != 0)
        {
            var load = await PodmanAsync("load", "--quiet", "--input", Archive);
            if (load.ExitCode != 0)
                Assert.Fail($"podman load {Archive} failed:\n{load}");
        }
        var probe = await PodmanAsync(["run", "--rm", "--pull=never", .. Limits, Image, "--version"]);
        return probe.ExitCode == 0 ? null : $"podman cannot run containers on this machine: {probe.Stderr.Trim()}";
    }

    /// <summary>The machine's hard limits are lower than podman's defaults; without these runc refuses to start.</summary>
    public static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    public static Task<Result> PodmanAsync(params string[] args) => RunAsync("podman", [.. Global, .. args], TimeSpan.FromMinutes(2));

    /// <summary>One field of <c>podman inspect</c> (a Go template, e.g. <c>{{.State.OOMKilled}}</c>).</summary>
    public static async Task<string> InspectAsync(string container, string template) =>
        (await PodmanAsync("inspect", "--format", template, container)).Stdout.Trim();

    /// <summary>
    /// The memory cgroup's figures of a running container (cgroup v1 here, v2 where present): current usage, the peak
    /// since start and the resident (rss/anon) part, in bytes.
    /// </summary>
    public static async Task<(long Usage, long Peak, long Resident)> MemoryAsync(string container)
    {
        var pid = await InspectAsync(container, "{{.State.Pid}}");
        var lines = await File.ReadAllLinesAsync($"/proc/{pid}/cgroup");
        if (lines.FirstOrDefault(l => l.Split(':') is [_, var controllers, _] && controllers.Split(',').Contains("memory")) is { } v1)
        {
            var dir = "/sys/fs/cgroup/memory" + v1.Split(':')[2];
            return (ReadLong(dir, "memory.usage_in_bytes"), ReadLong(dir, "memory.max_usage_in_bytes"), Stat(dir, "total_rss"));
        }
        var v2 = "/sys/fs/cgroup" + lines.Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];
        return (ReadLong(v2, "memory.current"), File.Exists(Path.Combine(v2, "memory.peak")) ? ReadLong(v2, "memory.peak") : -1, Stat(v2, "anon"));
    }

    private static long ReadLong(string dir, string file) => long.Parse(File.ReadAllText(Path.Combine(dir, file)).Trim());

    private static long Stat(string dir, string key) =>
        File.ReadLines(Path.Combine(dir, "memory.stat")).Select(l => l.Split(' ')).Where(f => f[0] == key).Select(f => long.Parse(f[1])).FirstOrDefault(-1);

    /// <summary>A Kubernetes quantity (<c>64Mi</c>, <c>48M</c>, <c>1Gi</c>, bytes) in bytes.</summary>
    public static long Bytes(string quantity)
    {
        (string Suffix, long Factor)[] units = [("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("k", 1000), ("M", 1_000_000), ("G", 1_000_000_000)];
        foreach (var (suffix, factor) in units)
        {
            if (quantity.EndsWith(suffix, StringComparison.Ordinal))
                return long.Parse(quantity[..^suffix.Length]) * factor;
        }
        return long.Parse(quantity);
    }

    /// <summary>
    /// <c>podman run</c> options for the pod the chart renders: its user, read-only root, capabilities, privilege
    /// escalation, memory limit and request, and its /tmp (an emptyDir in memory). Host networking stands in for the pod
    /// network: only loopback is open on these machines.
    /// </summary>
    public static string[] PodOptions(JsonObject pod, JsonObject container)
    {
        var security = container["securityContext"]!;
        var user = (string)security["runAsUser"]!;
        var group = (string?)pod["securityContext"]?["runAsGroup"] ?? user;
        var options = new List<string> { "--network", "host", "--user", $"{user}:{group}" };
        if ((string?)security["readOnlyRootFilesystem"] == "true")
            options.Add("--read-only");
        if ((string?)security["allowPrivilegeEscalation"] == "false")
            options.AddRange(["--security-opt", "no-new-privileges"]);
        foreach (var drop in security["capabilities"]?["drop"]?.AsArray() ?? [])
            options.AddRange(["--cap-drop", (string)drop!]);
        foreach (var add in security["capabilities"]?["add"]?.AsArray() ?? [])
            options.AddRange(["--cap-add", (string)add!]);
        if ((string?)container["resources"]?["limits"]?["memory"] is { } limit)
            options.AddRange(["--memory", Bytes(limit).ToString(), "--memory-swap", Bytes(limit).ToString()]);
        if ((string?)container["resources"]?["requests"]?["memory"] is { } request)
            options.AddRange(["--memory-reservation", Bytes(request).ToString()]);
        var tmp = pod["volumes"]?.AsArray().FirstOrDefault(v => (string?)v!["name"] == "tmp");
        if (tmp is not null)
            options.AddRange(["--tmpfs", $"/tmp:rw,size={Bytes((string?)tmp["emptyDir"]?["sizeLimit"] ?? "8Mi")},mode=1777"]);
        foreach (var env in container["env"]?.AsArray() ?? [])
        {
            if ((string?)env!["value"] is { } value)
                options.AddRange(["--env", $"{(string)env["name"]!}={value}"]);
        }
        return [.. options, .. Limits];
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static async Task<Result> RunAsync(string tool, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = HelmChart.RepositoryRoot };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        using var cancel = new CancellationTokenSource(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cancel.Token);
        var stderr = process.StandardError.ReadToEndAsync(cancel.Token);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
