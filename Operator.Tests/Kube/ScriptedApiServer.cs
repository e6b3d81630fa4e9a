using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Threading.Channels;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>A request the stub received.</summary>
public sealed record SeenRequest(string Method, string Path, IQueryCollection Query, string ContentType, string Body)
{
    public bool IsWatch => Query["watch"] == "true";
    public override string ToString() => $"{Method} {Path}{(Query.Count > 0 ? "?" + string.Join("&", Query.Select(q => $"{q.Key}={q.Value}")) : "")}";
}

/// <summary>
/// A tiny scripted Kubernetes API stub on loopback Kestrel, enough to drive KubernetesClient over real HTTP:
/// each request is answered by the first unused script that matches it (or an `always` script); unscripted
/// requests get 500. The full test API server lives in Cluster/; this one only plays back what a test says.
/// </summary>
public sealed class ScriptedApiServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly List<Script> scripts = [];
    private readonly Channel<SeenRequest> seen = Channel.CreateUnbounded<SeenRequest>();

    private ScriptedApiServer(WebApplication app) => this.app = app;

    public Uri Uri { get; private set; } = null!;
    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    public static async Task<ScriptedApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var server = new ScriptedApiServer(builder.Build());
        server.app.Run(server.HandleAsync);
        await server.app.StartAsync();
        server.Uri = new Uri(server.app.Urls.First());
        return server;
    }

    public IKubernetes Client() => new k8s.Kubernetes(new KubernetesClientConfiguration { Host = Uri.ToString() });

    /// <summary>Answers the next request matching <paramref name="match"/> once.</summary>
    public void Once(Func<SeenRequest, bool> match, Func<HttpContext, SeenRequest, Task> respond) => Add(match, respond, once: true);

    /// <summary>Answers every request matching <paramref name="match"/> (after the once-scripts).</summary>
    public void Always(Func<SeenRequest, bool> match, Func<HttpContext, SeenRequest, Task> respond) => Add(match, respond, once: false);

    /// <summary>The next request received, in order, within a generous timeout.</summary>
    public async Task<SeenRequest> NextRequestAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            return await seen.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no request reached the stub; seen so far: {string.Join(", ", Requests)}");
        }
    }

    public static Func<HttpContext, SeenRequest, Task> Json(string json, int status = 200) => async (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    };

    public static Func<HttpContext, SeenRequest, Task> Status(int code, string reason, IDictionary<string, string>? headers = null) => async (context, _) =>
    {
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            context.Response.Headers[name] = value;
        await Json($$"""{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"{{reason}}","code":{{code}}}""", code)(context, _);
    };

    /// <summary>A watch response that streams the lines written to <paramref name="events"/> until it completes.</summary>
    public static Func<HttpContext, SeenRequest, Task> Stream(ChannelReader<string> events) => async (context, _) =>
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.Body.FlushAsync();
        try
        {
            await foreach (var line in events.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
    };

    public static string Event(string type, string objectJson) => $$"""{"type":"{{type}}","object":{{objectJson}}}""";

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await app.StopAsync(stopping.Token);
        await app.DisposeAsync();
    }

    private void Add(Func<SeenRequest, bool> match, Func<HttpContext, SeenRequest, Task> respond, bool once)
    {
        lock (scripts)
            scripts.Add(new Script(match, respond, once));
    }

    private async Task HandleAsync(HttpContext context)
    {
        var body = await new StreamReader(context.Request.Body, Encoding.UTF8).ReadToEndAsync();
        var request = new SeenRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.Query,
            context.Request.ContentType ?? "", body);
        Requests.Enqueue(request);
        Script? script;
        lock (scripts)
        {
            script = scripts.FirstOrDefault(s => s.Once && !s.Used && s.Match(request)) ?? scripts.FirstOrDefault(s => !s.Once && s.Match(request));
            if (script is not null)
                script.Used = true;
        }
        seen.Writer.TryWrite(request);
        if (script is null)
        {
            await Status(500, $"unscripted {request}")(context, request);
            return;
        }
        await script.Respond(context, request);
    }

    private sealed class Script(Func<SeenRequest, bool> match, Func<HttpContext, SeenRequest, Task> respond, bool once)
    {
        public Func<SeenRequest, bool> Match { get; } = match;
        public Func<HttpContext, SeenRequest, Task> Respond { get; } = respond;
        public bool Once { get; } = once;
        public bool Used { get; set; }
    }
}
