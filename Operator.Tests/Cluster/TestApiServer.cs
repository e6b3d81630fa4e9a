using System.Net;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

public sealed record TestApiServerOptions
{
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>How many changes are kept for watches that resume from a resourceVersion.</summary>
    public int HistoryLimit { get; init; } = 1000;
    /// <summary>How often an idle watch with allowWatchBookmarks gets a BOOKMARK (kube-apiserver: about a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long a watch without timeoutSeconds stays open.</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(30);
    public TimeProvider Time { get; init; } = TimeProvider.System;
    public ILoggerFactory Logging { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>
/// A Kubernetes API server for tests, on Kestrel at 127.0.0.1. Start it, point KubernetesClient, kubectl or
/// helm at it (<see cref="ClientConfiguration"/>, <see cref="WriteKubeconfig"/>), inject faults, dispose it.
/// </summary>
public sealed class TestApiServer : IAsyncDisposable
{
    private readonly TestApiServerOptions _options;
    private readonly ApiEndpoints _endpoints;
    private WebApplication? _app;

    public TestApiServer(TestApiServerOptions? options = null)
    {
        _options = options ?? new TestApiServerOptions();
        Store = new ObjectStore(_options.HistoryLimit);
        Verbs = new ResourceVerbs(Store, new ResourceRegistry(), _options.Time);
        Faults = new Faults(_options.Time);
        Faults.OutageStarted += Store.CloseWatches;
        _endpoints = new ApiEndpoints(Verbs, Faults, _options, _options.Logging.CreateLogger<TestApiServer>());
        var namespaces = Verbs.Registry.Find("", "v1", "namespaces")!;
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            Verbs.Create(new Target(namespaces, "v1", null, null, null),
                new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } }, new WriteOptions());
        }
    }

    public ObjectStore Store { get; }
    public ResourceVerbs Verbs { get; }
    public Faults Faults { get; }

    /// <summary>The address it serves on, e.g. http://127.0.0.1:41234.</summary>
    public Uri Uri { get; private set; } = new("http://127.0.0.1:0");

    public async Task StartAsync(CancellationToken cancel = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_options.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, _options.Port, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        _app = builder.Build();
        _app.Run(_endpoints.HandleAsync);
        await _app.StartAsync(cancel);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Uri = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    public KubernetesClientConfiguration ClientConfiguration(string @namespace = "default") =>
        new() { Host = Uri.ToString(), Namespace = @namespace };

    public Kubernetes CreateClient() => new(ClientConfiguration());

    /// <summary>
    /// Writes a kubeconfig whose current context points at this server. The token is never checked; it is there
    /// because KubernetesClient refuses a user without credentials.
    /// </summary>
    public string WriteKubeconfig(string path, string @namespace = "default")
    {
        var server = Uri.ToString().TrimEnd('/');
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: minilb-test
              cluster:
                server: {server}
            contexts:
            - name: minilb-test
              context:
                cluster: minilb-test
                user: minilb-test
                namespace: {@namespace}
            current-context: minilb-test
            users:
            - name: minilb-test
              user:
                token: minilb-test

            """);
        return path;
    }

    /// <summary>Ends every open watch, as a restarting API server or a dropped connection would.</summary>
    public void CloseWatches() => Store.CloseWatches();

    /// <summary>Forgets the change history: watches resuming from an older resourceVersion get 410 Expired.</summary>
    public void CompactHistory() => Store.Compact();

    public async ValueTask DisposeAsync()
    {
        _endpoints.Stop();
        if (_app is not null)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(grace.Token);
            await _app.DisposeAsync();
        }
    }
}
