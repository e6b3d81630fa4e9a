using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// The shipped NativeAOT <c>minilb</c> (<c>artifacts/publish/minilb</c>, built by <c>make publish</c>, which
/// <c>make test</c> runs first) started as a separate process, its output collected while it runs.
/// </summary>
public sealed class AotBinary : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly StringBuilder error = new();

    private AotBinary(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The binary's path, or the test is ignored saying how to build it.</summary>
    public static string Locate()
    {
        var path = RepositoryFile(Path.Combine("artifacts", "publish", "minilb"));
        if (!File.Exists(path))
            Assert.Ignore("the NativeAOT binary artifacts/publish/minilb is absent: run `make publish` (`make test` builds it first)");
        return path;
    }

    /// <summary>A path in the repository the tests were built from.</summary>
    public static string RepositoryFile(string relative)
    {
        var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MiniLb.Operator.sln")))
            directory = directory.Parent;
        return directory is null ? relative : Path.Combine(directory.FullName, relative);
    }

    public static AotBinary Start(params string[] args)
    {
        var info = new ProcessStartInfo(Locate()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        return new AotBinary(Process.Start(info)!);
    }

    /// <summary>Starts a prepared process (the binary behind a wrapper such as <c>unshare</c>, or with its own environment).</summary>
    public static AotBinary Start(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        info.UseShellExecute = false;
        return new AotBinary(Process.Start(info)!);
    }

    /// <summary>Runs to completion (at most a minute).</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        await using var run = Start(args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await run.process.WaitForExitAsync(timeout.Token);
        return (run.process.ExitCode, run.Output, run.Error);
    }

    public int Id => process.Id;
    public bool HasExited => process.HasExited;

    public string Output
    {
        get
        {
            lock (output)
                return output.ToString();
        }
    }

    public string Error
    {
        get
        {
            lock (error)
                return error.ToString();
        }
    }

    /// <summary>The names <c>serve</c> lists under "Names served:" in its start-up output.</summary>
    public static IEnumerable<string> ServedNames(string output) => output.Split('\n')
        .SkipWhile(l => !l.Contains("Names served:", StringComparison.Ordinal)).Skip(1)
        .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal) && !l.Contains("(none", StringComparison.Ordinal))
        .Select(l => l.Trim());

    /// <summary>Resident memory now, from /proc.</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(Regex.Match(line, @"\d+").Value) * 1024;
    }

    /// <summary>Waits until stdout holds <paramref name="text"/>; fails with both streams if the process exits or a minute passes.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
                Assert.Fail($"minilb did not print '{text}' ({(process.HasExited ? $"exited with {process.ExitCode}" : "timed out")}).\nstdout:\n{Output}\nstderr:\n{Error}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod; the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
                await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
        }
        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }

    private static void Append(StringBuilder to, string? line)
    {
        if (line is null)
            return;
        lock (to)
            to.Append(line).Append('\n');
    }
}
