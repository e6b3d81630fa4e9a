using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Observability;

/// <summary>How log lines look: readable text for people, or one JSON object per line for log collectors.</summary>
public enum LogFormat
{
    Text,
    Json,
}

/// <summary>The process's logging: console only, on standard error so command output (routes, manifests) stays clean on stdout.</summary>
public static class Logging
{
    public static ILoggerFactory CreateFactory(LogFormat format, LogLevel level) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(level);
        // Per-query lines exist only at Debug and below (the DNS path logs nothing above that).
        if (format == LogFormat.Json)
        {
            builder.AddJsonConsole(options =>
            {
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.AddSimpleConsole(options =>
            {
                options.SingleLine = true;
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        }
        builder.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}
