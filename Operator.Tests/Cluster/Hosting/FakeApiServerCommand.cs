using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// <c>fake-apiserver [--port N] [--kubeconfig PATH] [--history N] [--bookmark-seconds N] [--https] [--rbac] [--verbose]</c>:
/// serves in the foreground until interrupted, writes an admin kubeconfig pointing at itself, prints <c>ready</c>.
/// </summary>
public static class FakeApiServerCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var port = 0;
        string? kubeconfig = null;
        var options = new TestApiServerOptions();
        var verbose = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--port": port = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--kubeconfig": kubeconfig = Value(); break;
                    case "--history": options = options with { HistoryLimit = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
                    case "--bookmark-seconds": options = options with { BookmarkInterval = TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture)) }; break;
                    case "--https": options = options with { Https = true }; break;
                    case "--rbac": options = options with { Access = AccessMode.Rbac }; break;
                    case "--verbose" or "-v": verbose = true; break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                await stderr.WriteLineAsync($"fake-apiserver: {e.Message}");
                await stderr.WriteLineAsync("usage: fake-apiserver [--port N] [--kubeconfig PATH] [--history N] [--bookmark-seconds N] [--https] [--rbac] [--verbose]");
                return 2;
            }
        }
        using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning));
        await using var server = new TestApiServer(options with { Port = port, Logging = logging });
        await server.StartAsync();
        if (kubeconfig is not null) server.WriteKubeconfig(kubeconfig);
        await stdout.WriteLineAsync($"serving on {server.Uri}");
        if (kubeconfig is not null) await stdout.WriteLineAsync($"kubeconfig written to {kubeconfig}");
        await stdout.WriteLineAsync("ready");
        await stdout.FlushAsync();
        var stop = new TaskCompletionSource();
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        await stop.Task;
        return 0;
    }
}
