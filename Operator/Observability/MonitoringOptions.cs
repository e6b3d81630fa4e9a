using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Observability;

/// <summary>
/// The command-line options of the operational surface, for the commands that run a server (<c>run</c>, <c>serve</c>)
/// to add: <c>--health-listen</c>, <c>--log-format</c>, <c>--log-level</c>. Bad values fail parsing with a message
/// naming the option.
/// </summary>
public static class MonitoringOptions
{
    /// <summary>The value of <c>--health-listen</c> that turns the endpoint off.</summary>
    public const string Off = "off";

    /// <param name="defaultListen">Where the endpoint listens when the flag is not given; null: off.</param>
    public static Option<string?> HealthListen(string? defaultListen = null) => new("--health-listen")
    {
        Description = defaultListen is null
            ? "Serve /healthz, /readyz and /metrics on this [host]:port (e.g. :8080 for all IPv4 addresses, 127.0.0.1:8080); off when not given."
            : $"Serve /healthz, /readyz and /metrics on this [host]:port (e.g. :8080 for all IPv4 addresses, 127.0.0.1:8080), or '{Off}'. Default: {defaultListen}.",
        DefaultValueFactory = _ => defaultListen,
        Validators =
        {
            result =>
            {
                var value = result.GetValueOrDefault<string?>();
                if (value is null or Off)
                    return;
                try
                {
                    MonitoringEndpoint.ParseListen(value);
                }
                catch (FormatException e)
                {
                    result.AddError($"--health-listen: {e.Message}");
                }
            },
        },
    };

    public static Option<LogFormat> LogFormat() => new("--log-format")
    {
        Description = "Log lines as readable text (default) or JSON, one object per line.",
        DefaultValueFactory = _ => Observability.LogFormat.Text,
    };

    public static Option<LogLevel> LogLevel(LogLevel defaultLevel = Microsoft.Extensions.Logging.LogLevel.Information) => new("--log-level")
    {
        Description = $"Least severe level logged: Trace, Debug, Information, Warning, Error (default {defaultLevel}). DNS queries are logged at Debug.",
        DefaultValueFactory = _ => defaultLevel,
    };
}
