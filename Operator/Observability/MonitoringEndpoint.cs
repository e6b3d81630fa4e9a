using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace MiniLb.Operator.Observability;

/// <summary>
/// The small HTTP server for the kubelet and Prometheus: <c>/metrics</c>, <c>/healthz</c>, <c>/readyz</c>.
/// Built on <see cref="HttpListener"/> rather than Kestrel: three GET routes do not need ASP.NET Core, and the
/// NativeAOT binary stays small.
/// </summary>
public sealed class MonitoringEndpoint : IAsyncDisposable
{
    private const string PrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";
    private const string OpenMetricsType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    private readonly HttpListener _listener;
    private readonly Telemetry _telemetry;
    private readonly HealthChecks _checks;
    private readonly ILogger<MonitoringEndpoint> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;

    private MonitoringEndpoint(HttpListener listener, int port, Telemetry telemetry, HealthChecks checks, ILogger<MonitoringEndpoint> logger)
    {
        _listener = listener;
        Port = port;
        _telemetry = telemetry;
        _checks = checks;
        _logger = logger;
        _acceptLoop = AcceptAsync(_stopping.Token);
    }

    /// <summary>The TCP port served.</summary>
    public int Port { get; }

    /// <summary>
    /// Parses a listen address as the <c>--health-listen</c> flag takes it — <c>:8080</c> (all IPv4 addresses) or
    /// <c>127.0.0.1:8080</c> — into an <see cref="HttpListener"/> prefix and its port.
    /// </summary>
    /// <exception cref="FormatException">The address is not <c>[IPv4]:port</c> with a port in 1–65535.</exception>
    public static (string Prefix, int Port) ParseListen(string listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        var colon = listen.LastIndexOf(':');
        var host = colon < 0 ? "" : listen[..colon];
        var portText = colon < 0 ? listen : listen[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FormatException($"health listen address '{listen}': the port must be a number from 1 to 65535 (e.g. ':8080' or '127.0.0.1:8080')");
        if (host is "" or "*" or "+" or "0.0.0.0")
            return ($"http://+:{port}/", port);
        // The managed HttpListener on Linux rejects IPv6 literals in prefixes ("Invalid port in prefix") and its
        // wildcard binds 0.0.0.0 only, so say so here instead of failing at bind time.
        if (!IPAddress.TryParse(host, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new FormatException($"health listen address '{listen}': the host must be empty (all IPv4 addresses) or an IPv4 address; IPv6 is not supported by this endpoint");
        return ($"http://{host}:{port}/", port);
    }

    /// <summary>Binds <paramref name="listen"/> and starts serving; throws <see cref="HttpListenerException"/> when the port is taken.</summary>
    public static MonitoringEndpoint Start(string listen, Telemetry telemetry, HealthChecks checks, ILogger<MonitoringEndpoint> logger)
    {
        var (prefix, port) = ParseListen(listen);
        var listener = new HttpListener { IgnoreWriteExceptions = true };
        listener.Prefixes.Add(prefix);
        try
        {
            listener.Start();
        }
        catch
        {
            listener.Close();
            throw;
        }
        logger.LogInformation("Serving /metrics, /healthz and /readyz on {Listen}", listen);
        return new MonitoringEndpoint(listener, port, telemetry, checks, logger);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Close();
        await _acceptLoop;
        _stopping.Dispose();
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        await Task.Yield();
        while (!ct.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().WaitAsync(ct);
            }
            catch (Exception e) when (ct.IsCancellationRequested || e is ObjectDisposedException or HttpListenerException)
            {
                return;
            }
            _ = HandleAsync(context, ct);
        }
    }

    private async Task HandleAsync(HttpListenerContext context, CancellationToken ct)
    {
        var response = context.Response;
        try
        {
            var request = context.Request;
            if (request.HttpMethod != "GET")
            {
                response.AddHeader("Allow", "GET");
                await WriteTextAsync(response, HttpStatusCode.MethodNotAllowed, "only GET is served\n", ct);
                return;
            }
            switch (request.Url?.AbsolutePath)
            {
                case "/metrics":
                    await WriteMetricsAsync(request, response, ct);
                    break;
                case "/healthz":
                    await WriteChecksAsync(response, Probe.Liveness, "healthz", IsVerbose(request), ct);
                    break;
                case "/readyz":
                    await WriteChecksAsync(response, Probe.Readiness, "readyz", IsVerbose(request), ct);
                    break;
                default:
                    await WriteTextAsync(response, HttpStatusCode.NotFound, "not found: try /metrics, /healthz or /readyz\n", ct);
                    break;
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _logger.LogWarning(e, "Monitoring request {Path} failed", context.Request.Url?.AbsolutePath);
        }
        catch
        {
            // Stopping: the listener is closing under this request; nothing to report.
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is ObjectDisposedException or HttpListenerException or IOException)
            {
                // The client went away or the listener closed first.
            }
        }
    }

    /// <summary><c>?verbose</c> as the kube-apiserver takes it: with or without a value.</summary>
    private static bool IsVerbose(HttpListenerRequest request) =>
        (request.Url?.Query ?? "").TrimStart('?').Split('&').Any(p => p == "verbose" || p.StartsWith("verbose=", StringComparison.Ordinal));

    private async Task WriteMetricsAsync(HttpListenerRequest request, HttpListenerResponse response, CancellationToken ct)
    {
        var openMetrics = request.Headers["Accept"]?.Contains("application/openmetrics-text", StringComparison.Ordinal) == true;
        // Buffer first: the listener needs Content-Length (or chunking) decided before the body starts.
        using var body = new MemoryStream();
        await _telemetry.Registry.CollectAndExportAsTextAsync(body,
            openMetrics ? ExpositionFormat.OpenMetricsText : ExpositionFormat.PrometheusText, ct);
        response.StatusCode = (int)HttpStatusCode.OK;
        response.ContentType = openMetrics ? OpenMetricsType : PrometheusTextType;
        response.ContentLength64 = body.Length;
        body.Position = 0;
        await body.CopyToAsync(response.OutputStream, ct);
    }

    /// <summary>Answers 200 or 503 with the report's text (<see cref="HealthReport.Text"/>).</summary>
    private async Task WriteChecksAsync(HttpListenerResponse response, Probe probe, string endpoint, bool verbose, CancellationToken ct)
    {
        var report = _checks.Report(probe);
        await WriteTextAsync(response, report.Healthy ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, report.Text(endpoint, verbose), ct);
    }

    private static async Task WriteTextAsync(HttpListenerResponse response, HttpStatusCode status, string text, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = (int)status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes, ct);
    }
}
