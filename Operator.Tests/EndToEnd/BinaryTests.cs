using k8s;
using System.Diagnostics;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// The shipped NativeAOT binary (`make publish` → artifacts/publish/minilb, or MINILB_BINARY) running `minilb run` as
/// its own process against the test API server: trimming must not break watches, status writes or DNS.
/// </summary>
public sealed class BinaryTests : OperatorFixture
{
    private static string Binary()
    {
        var path = Environment.GetEnvironmentVariable("MINILB_BINARY") is { Length: > 0 } given
            ? given
            : Path.Combine(TestObjects.RepositoryRoot, "artifacts", "publish", "minilb");
        if (!File.Exists(path))
            Assert.Ignore($"no published binary at {path}: run `make publish` (NativeAOT) or set MINILB_BINARY");
        return path;
    }

    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo(Binary()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Output.Add(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => Output.Add(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private System.Collections.Concurrent.ConcurrentBag<string> Output { get; } = [];

    [Test]
    public async Task The_binary_serves_DNS_writes_the_hostname_and_keeps_routes_current()
    {
        var port = FreePort();
        await CreateConfigAsync(port: port);
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");

        using var minilb = Start("run", "--kubeconfig", Kubeconfig, "--leader-election", "false");
        try
        {
            await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "the binary answers DNS", TimeSpan.FromSeconds(30));
            await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the binary writes the hostname");
            await SetEndpointsAsync("default", "web", "10.244.0.6");
            await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.6"], "the binary's watch delivers the change");
            await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.Count == 1, "the binary publishes the routes");
            Assert.That(Output, Has.Some.Contains("ip route add 10.244.0.0/24 via 192.168.1.11"));
        }
        finally
        {
            minilb.Kill(entireProcessTree: true);
            await minilb.WaitForExitAsync();
            TestContext.Out.WriteLine(string.Join("\n", Output));
        }
    }

    [Test]
    public async Task The_binary_exits_2_on_an_unusable_kubeconfig()
    {
        using var minilb = Start("run", "--kubeconfig", Path.Combine(Scratch, "missing"));
        await minilb.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(minilb.ExitCode, Is.EqualTo(2), string.Join("\n", Output));
    }
}
