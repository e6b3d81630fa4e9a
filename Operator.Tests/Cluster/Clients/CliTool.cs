using System.Diagnostics;

namespace MiniLb.Operator.Tests.Cluster;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// A real client binary (kubectl, helm) run against the test API server with its own kubeconfig and an
/// empty home directory, so no discovery cache or user configuration leaks in.
/// </summary>
public sealed class CliTool(string executable, string kubeconfig, string home)
{
    /// <summary>The repository's <c>.tools/bin</c> (from <c>make tools</c>) first, then PATH.</summary>
    public static string? Locate(string name)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "MiniLb.Operator.sln"))) continue;
            var local = Path.Combine(dir.FullName, ".tools", "bin", name);
            if (File.Exists(local)) return local;
            break;
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(p => Path.Combine(p, name)).FirstOrDefault(File.Exists);
    }

    public async Task<CliResult> RunAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["KUBECONFIG"] = kubeconfig;
        start.Environment["HOME"] = home;
        start.Environment["XDG_CACHE_HOME"] = Path.Combine(home, ".cache");
        start.Environment["XDG_CONFIG_HOME"] = Path.Combine(home, ".config");
        start.Environment["XDG_DATA_HOME"] = Path.Combine(home, ".local", "share");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(executable)} {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
