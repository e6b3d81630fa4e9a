using System.Net;
using System.Reflection;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Observability;

/// <summary>
/// The operational surface of a server command (<c>run</c>, <c>serve</c>): its loggers, metrics, health checks and,
/// unless turned off, the HTTP endpoint serving them. Dispose to stop the endpoint and flush the logs.
/// </summary>
public sealed class Monitoring : IAsyncDisposable
{
    private MonitoringEndpoint? endpoint;

    private Monitoring(ILoggerFactory loggers)
    {
        Loggers = loggers;
        Telemetry = new Telemetry(Version);
    }

    /// <summary>The build's version (the repository's VERSION file), as `minilb --version` prints it.</summary>
    public static string Version { get; } =
        typeof(Monitoring).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public ILoggerFactory Loggers { get; }
    public Telemetry Telemetry { get; }
    public HealthChecks Checks { get; } = new();

    /// <summary>The port /metrics, /healthz and /readyz are served on; null when off.</summary>
    public int? Port => endpoint?.Port;

    /// <summary>
    /// Starts logging and, when <paramref name="listen"/> is an address, the endpoint. An address given on the command
    /// line that cannot be bound is an error (null, after writing why); the built-in default only earns a warning,
    /// so a second copy on one machine still runs.
    /// </summary>
    public static async Task<Monitoring?> StartAsync(string command, string? listen, bool listenIsDefault, LogFormat format, LogLevel level, TextWriter error)
    {
        var monitoring = new Monitoring(Logging.CreateFactory(format, level));
        if (listen is null or MonitoringOptions.Off)
            return monitoring;
        try
        {
            monitoring.endpoint = MonitoringEndpoint.Start(listen, monitoring.Telemetry, monitoring.Checks,
                monitoring.Loggers.CreateLogger<MonitoringEndpoint>());
        }
        catch (HttpListenerException e) when (listenIsDefault)
        {
            monitoring.Loggers.CreateLogger<Monitoring>().LogWarning(
                "Not serving /metrics, /healthz and /readyz: cannot listen on the default {Listen} ({Error}); choose another with --health-listen, or --health-listen off",
                listen, e.Message);
        }
        catch (HttpListenerException e)
        {
            await error.WriteLineAsync($"minilb {command}: --health-listen {listen}: cannot listen: {e.Message}");
            monitoring.Loggers.Dispose();
            return null;
        }
        return monitoring;
    }

    public async ValueTask DisposeAsync()
    {
        if (endpoint is not null)
            await endpoint.DisposeAsync();
        Loggers.Dispose();
    }
}
