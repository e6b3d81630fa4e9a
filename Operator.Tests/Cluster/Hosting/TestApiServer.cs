using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
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
    /// <summary>HTTPS with a CA generated at start (in the kubeconfig as certificate-authority-data); client certificates are accepted.</summary>
    public bool Https { get; init; }
    /// <summary>Everyone is admin (the default), or authentication and RBAC as kube-apiserver does them.</summary>
    public AccessMode Access { get; init; } = AccessMode.EveryoneIsAdmin;
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
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private WebApplication? _app;
    private ITimer? _reopen;
    private ConnectionRefuser? _refuser;
    private TaskCompletionSource _serving = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;

    public TestApiServer(TestApiServerOptions? options = null)
    {
        _options = options ?? new TestApiServerOptions();
        Store = new ObjectStore(_options.HistoryLimit);
        Verbs = new ResourceVerbs(Store, new ResourceRegistry(), _options.Time);
        Faults = new Faults(_options.Time);
        Authority = _options.Https ? new CertificateAuthority(_options.Time) : null;
        Authenticator = new Authenticator(Authority, Store, _options.Time);
        Access = new Access(_options.Access, Authenticator, new RbacAuthorizer(Store), Store, _options.Time);
        // With nothing enforced the token is never read; it is there because KubernetesClient refuses a user without credentials.
        AdminCredentials = Credentials.FromToken(_options.Access == AccessMode.Rbac ? Authenticator.Issue(Access.Admin) : "minilb-test");
        _endpoints = new ApiEndpoints(Verbs, Faults, Access, _options, _options.Logging.CreateLogger<TestApiServer>(),
            // Over HTTP the outage starts after the answer: closing the listener waits for the request itself.
            (duration, mode) =>
            {
                var until = _options.Time.GetUtcNow() + duration;
                _ = Task.Run(() => OutageUntilAsync(until, mode));
            });
        var namespaces = Verbs.Registry.Find("", "v1", "namespaces")!;
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            Verbs.Create(new Target(namespaces, "v1", null, null, null),
                new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } }, new WriteOptions());
        }
        if (_options.Access == AccessMode.Rbac)
        {
            foreach (var (plural, obj) in RbacAuthorizer.BootstrapObjects())
                Verbs.Create(new Target(Verbs.Registry.Find("rbac.authorization.k8s.io", "v1", plural)!, "v1", null, null, null), obj, new WriteOptions());
        }
    }

    public ObjectStore Store { get; }
    public ResourceVerbs Verbs { get; }
    public Faults Faults { get; }
    public Access Access { get; }
    public Authenticator Authenticator { get; }
    /// <summary>The cluster CA (HTTPS only).</summary>
    public CertificateAuthority? Authority { get; }
    /// <summary>A <c>system:masters</c> token: what <see cref="CreateClient"/> and kubeconfigs use unless told otherwise.</summary>
    public Credentials AdminCredentials { get; }

    /// <summary>A token for a ServiceAccount, as <c>kubectl create token</c> gets one (the account must exist when it is used).</summary>
    public string IssueToken(string ns, string serviceAccount, TimeSpan? lifetime = null) =>
        Authenticator.Issue(ns, serviceAccount, lifetime ?? TimeSpan.FromHours(1));

    /// <summary>Every request with <paramref name="token"/> is a 401 from now on.</summary>
    public bool RevokeToken(string token) => Authenticator.Revoke(token);

    /// <summary>A client certificate signed by the cluster CA: user = CN, groups = O (<c>system:masters</c> may do anything).</summary>
    public Credentials IssueClientCertificate(string user, params string[] groups) =>
        (Authority ?? throw new InvalidOperationException("client certificates need TestApiServerOptions.Https")).IssueClient(user, groups);

    /// <summary>Every (user, connection) pair requests came from, with their HTTP version ("HTTP/2", "HTTP/1.1").</summary>
    public IReadOnlyDictionary<(string User, string Connection), string> Connections => _endpoints.Connections;

    /// <summary>The address it serves on, e.g. http://127.0.0.1:41234.</summary>
    public Uri Uri { get; private set; } = new("http://127.0.0.1:0");

    public async Task StartAsync(CancellationToken cancel = default)
    {
        await _lifecycle.WaitAsync(cancel);
        try { await ListenAsync(_options.Port, cancel); }
        finally { _lifecycle.Release(); }
    }

    /// <summary>Completes while the server listens (at once, or when a refusing outage ends).</summary>
    public Task WhenServingAsync() => _serving.Task;

    private async Task ListenAsync(int port, CancellationToken cancel)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_options.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Protocols = Authority is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                if (Authority is null) return;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = Authority.ServingCertificate;
                    // Asked for, never required; the Authenticator checks it is the CA's (401 if not), as kube-apiserver does.
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    https.AllowAnyClientCertificate();
                });
            });
            kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        _app = builder.Build();
        _app.Run(_endpoints.HandleAsync);
        await _app.StartAsync(cancel);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Uri = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
        _serving.TrySetResult();
    }

    private async Task CloseListenerAsync()
    {
        if (_app is null) return;
        _serving = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Store.CloseWatches();
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(grace.Token);
        await _app.DisposeAsync();
        _app = null;
    }

    /// <summary>
    /// An outage of <paramref name="duration"/> (on the server's TimeProvider). Open watches end when it starts.
    /// <see cref="OutageMode.Refuse"/> closes the listener (connections refused) and reopens it on the same port;
    /// <see cref="OutageMode.Hang"/> keeps accepting but holds every request until the outage is over.
    /// </summary>
    public Task OutageAsync(TimeSpan duration, OutageMode mode = OutageMode.Refuse) =>
        OutageUntilAsync(_options.Time.GetUtcNow() + duration, mode);

    private async Task OutageUntilAsync(DateTimeOffset until, OutageMode mode)
    {
        if (mode == OutageMode.Hang)
        {
            Faults.Hang(until - _options.Time.GetUtcNow());
            Store.CloseWatches();
            return;
        }
        await _lifecycle.WaitAsync();
        try
        {
            var port = Uri.Port;
            await CloseListenerAsync();
            _refuser ??= ConnectionRefuser.Start(port, Faults);
            _reopen?.Dispose();
            // The end is fixed when the outage starts: closing the listener may take a while.
            var remaining = until - _options.Time.GetUtcNow();
            _reopen = _options.Time.CreateTimer(_ => _ = ReopenAsync(port), null,
                remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
        finally { _lifecycle.Release(); }
    }

    private async Task ReopenAsync(int port)
    {
        await _lifecycle.WaitAsync();
        try
        {
            await StopRefusingAsync();
            if (_app is null && !_disposed) await ListenAsync(port, CancellationToken.None);
        }
        finally { _lifecycle.Release(); }
    }

    /// <summary>A client configuration for this server, as <paramref name="credentials"/> (default: <see cref="AdminCredentials"/>).</summary>
    public KubernetesClientConfiguration ClientConfiguration(string @namespace = "default", Credentials? credentials = null)
    {
        credentials ??= AdminCredentials;
        var configuration = new KubernetesClientConfiguration { Host = Uri.ToString(), Namespace = @namespace, AccessToken = credentials.Token };
        if (Authority is not null)
            configuration.SslCaCerts = [X509CertificateLoader.LoadCertificate(Authority.Certificate.RawData)];
        if (credentials.CertificatePem is not null)
        {
            configuration.ClientCertificateData = Base64(credentials.CertificatePem);
            configuration.ClientCertificateKeyData = Base64(credentials.KeyPem!);
        }
        return configuration;
    }

    public Kubernetes CreateClient(Credentials? credentials = null) => new(ClientConfiguration(credentials: credentials));

    /// <summary>
    /// Writes a kubeconfig whose current context points at this server (with the CA as certificate-authority-data
    /// over HTTPS), as <paramref name="credentials"/> (default: <see cref="AdminCredentials"/>).
    /// </summary>
    public string WriteKubeconfig(string path, string @namespace = "default", Credentials? credentials = null)
    {
        credentials ??= AdminCredentials;
        var server = Uri.ToString().TrimEnd('/');
        var authority = Authority is null ? "" : $"\n    certificate-authority-data: {Base64(Authority.CertificatePem)}";
        var user = credentials.Token is { } token
            ? $"token: {token}"
            : $"client-certificate-data: {Base64(credentials.CertificatePem!)}\n    client-key-data: {Base64(credentials.KeyPem!)}";
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: minilb-test
              cluster:
                server: {server}{authority}
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
                {user}

            """);
        return path;
    }

    private static string Base64(string pem) => Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(pem));

    /// <summary>Ends every open watch, as a restarting API server or a dropped connection would.</summary>
    public void CloseWatches() => Store.CloseWatches();

    /// <summary>Forgets the change history: watches resuming from an older resourceVersion get 410 Expired.</summary>
    public void CompactHistory() => Store.Compact();

    public async ValueTask DisposeAsync()
    {
        _endpoints.Stop();
        await _lifecycle.WaitAsync();
        try
        {
            _disposed = true;
            _reopen?.Dispose();
            await StopRefusingAsync();
            await CloseListenerAsync();
            Authority?.Dispose();
        }
        finally { _lifecycle.Release(); }
    }

    private async Task StopRefusingAsync()
    {
        if (_refuser is null) return;
        await _refuser.DisposeAsync();
        _refuser = null;
    }

    /// <summary>
    /// Stands in for the closed listener during a refusing outage: every connection is counted
    /// (<see cref="Faults.RefusedInOutage"/>) and reset at once, before a byte of HTTP, so the client fails as if refused.
    /// </summary>
    private sealed class ConnectionRefuser : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly Task _accepting;

        private ConnectionRefuser(Socket listener, Faults faults)
        {
            _listener = listener;
            _accepting = Task.Run(async () =>
            {
                while (true)
                {
                    Socket connection;
                    try { connection = await _listener.AcceptAsync(); }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                    faults.CountRefused();
                    connection.LingerState = new LingerOption(true, 0); // RST, no FIN
                    connection.Dispose();
                }
            });
        }

        public static ConnectionRefuser Start(int port, Faults faults)
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            listener.Listen(512);
            return new ConnectionRefuser(listener, faults);
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            await _accepting;
        }
    }
}
