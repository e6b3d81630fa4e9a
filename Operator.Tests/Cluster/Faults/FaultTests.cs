using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class FaultTests : ApiServerFixture
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    protected override TestApiServerOptions Options => new() { Time = _time };

    private Task<V1ConfigMap> CreateConfigMap(string name) =>
        Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name } }, "default");

    /// <summary>Lists namespaces, checks the answer is held back, then lets <paramref name="passing"/> of fake time pass.</summary>
    private async Task<(bool AnsweredEarly, V1NamespaceList Answer)> ListWhileTimePasses(TimeSpan passing)
    {
        var pending = Client.CoreV1.ListNamespaceAsync();
        var answeredEarly = await Task.WhenAny(pending, Task.Delay(TimeSpan.FromMilliseconds(300))) == pending;
        _time.Advance(passing);
        return (answeredEarly, await pending.WaitAsync(Patience));
    }

    [Test]
    public async Task Closing_watches_ends_every_open_watch_stream()
    {
        await CreateConfigMap("present");
        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var initial = await Take(events, 1);

        Server.CloseWatches();
        var more = await events.MoveNextAsync();

        Assert.That(initial.Single().Object.Metadata.Name, Is.EqualTo("present"));
        Assert.That(more, Is.False, "the stream ended");
        Assert.That(Server.Store.OpenWatches, Is.Zero);
    }

    [Test]
    public async Task The_next_requests_fail_with_500_then_the_server_answers_again()
    {
        Server.Faults.FailNext(2);

        var (first, status) = await FailureOf(() => Client.CoreV1.ListNamespaceAsync());
        var (second, _) = await FailureOf(() => Client.CoreV1.ListNamespaceAsync());
        var third = await Client.CoreV1.ListNamespaceAsync();

        Assert.That((first, second), Is.EqualTo((500, 500)));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("InternalError"));
        Assert.That(third.Items, Is.Not.Empty);
    }

    [Test]
    public async Task Failures_can_be_aimed_at_one_kind_of_request()
    {
        await Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web" },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", Ports = [new V1ServicePort { Port = 80 }] },
        }, "default");
        Server.Faults.FailNext(1, matching: r => r.Method == "PATCH" && r.Path.Value!.EndsWith("/status", StringComparison.Ordinal));
        var patch = new V1Patch("""{"status":{"loadBalancer":{"ingress":[{"hostname":"web.default.minilb"}]}}}""", V1Patch.PatchType.MergePatch);

        var read = await Client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        var (failed, _) = await FailureOf(() => Client.CoreV1.PatchNamespacedServiceStatusAsync(patch, "web", "default"));
        var retried = await Client.CoreV1.PatchNamespacedServiceStatusAsync(patch, "web", "default");

        Assert.That(read.Metadata.Name, Is.EqualTo("web"));
        Assert.That(failed, Is.EqualTo(500));
        Assert.That(retried.Status.LoadBalancer.Ingress.Single().Hostname, Is.EqualTo("web.default.minilb"));
    }

    [Test]
    public async Task Throttled_requests_get_429_with_Retry_After()
    {
        Server.Faults.ThrottleNext(1, retryAfterSeconds: 7);
        using var http = new HttpClient { BaseAddress = Server.Uri };

        using var throttled = await http.GetAsync("/api/v1/namespaces");
        var status = JsonNode.Parse(await throttled.Content.ReadAsStringAsync())!;
        using var next = await http.GetAsync("/api/v1/namespaces");

        Assert.That(throttled.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(throttled.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(7)));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("TooManyRequests"));
        Assert.That(status["details"]!["retryAfterSeconds"]!.GetValue<int>(), Is.EqualTo(7));
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task During_a_refusing_outage_connections_are_refused_and_watches_drop()
    {
        await CreateConfigMap("present");
        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        await Take(events, 1);
        var port = Server.Uri.Port;

        await Server.OutageAsync(TimeSpan.FromMinutes(1), OutageMode.Refuse);
        var watchEnded = !await events.MoveNextAsync();
        var refused = Assert.ThrowsAsync<HttpRequestException>(async () => await Client.CoreV1.ListNamespaceAsync());
        _time.Advance(TimeSpan.FromMinutes(1));
        await Server.WhenServingAsync().WaitAsync(Patience);
        var after = await Client.CoreV1.ListNamespacedConfigMapAsync("default");

        Assert.That(watchEnded, Is.True);
        // The reset reaches the client as a SocketException, wrapped in an IOException when it lands during the TLS handshake.
        var reset = refused!.InnerException is System.IO.IOException { InnerException: { } io } ? io : refused.InnerException;
        Assert.That(reset, Is.InstanceOf<System.Net.Sockets.SocketException>(), refused.ToString());
        Assert.That(((System.Net.Sockets.SocketException)reset!).SocketErrorCode, Is.EqualTo(System.Net.Sockets.SocketError.ConnectionReset),
            "reset before a byte of HTTP, so the attempt can be counted");
        Assert.That(Server.Faults.RefusedInOutage, Is.EqualTo(1), "the one request made during the outage is counted");
        Assert.That(Server.Uri.Port, Is.EqualTo(port), "it comes back on the same port");
        Assert.That(after.Items.Select(i => i.Metadata.Name), Is.EqualTo(new[] { "present" }), "with the same objects");
    }

    [Test]
    public async Task During_a_hanging_outage_requests_wait_until_it_ends()
    {
        await Server.OutageAsync(TimeSpan.FromMinutes(1), OutageMode.Hang);

        var (answeredEarly, answer) = await ListWhileTimePasses(TimeSpan.FromMinutes(1));

        Assert.That(answeredEarly, Is.False);
        Assert.That(answer.Items, Is.Not.Empty);
        Assert.That(Server.Faults.HeldInOutage, Is.EqualTo(1), "the one request made during the outage is counted");
    }

    [Test]
    public async Task After_compaction_a_watch_resuming_from_an_older_resourceVersion_gets_410()
    {
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        await CreateConfigMap("after-list");

        Server.CompactHistory();
        using var deadline = Deadline();
        var errors = new List<Exception>();
        var events = await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: listed.Metadata.ResourceVersion,
            onError: errors.Add, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token), 1);

        Assert.That(events, Is.Empty);
        Assert.That(errors.OfType<KubernetesException>().Single().Status.Code, Is.EqualTo(410));
    }

    [Test]
    public async Task Latency_delays_every_answer()
    {
        Server.Faults.Latency = TimeSpan.FromSeconds(30);

        var (answeredEarly, answer) = await ListWhileTimePasses(TimeSpan.FromSeconds(30));

        Assert.That(answeredEarly, Is.False);
        Assert.That(answer.Items, Is.Not.Empty);
    }

    [Test]
    public async Task Faults_can_be_injected_over_http_for_the_standalone_server()
    {
        using var http = new HttpClient { BaseAddress = Server.Uri };

        using var injected = await http.PostAsync("/_fake/fail?count=1&code=503", null);
        var (code, status) = await FailureOf(() => Client.CoreV1.ListNamespaceAsync());

        Assert.That(injected.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(code, Is.EqualTo(503));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("ServiceUnavailable"));
    }

    [Test]
    public async Task A_refusing_outage_can_be_started_over_http()
    {
        using var http = new HttpClient { BaseAddress = Server.Uri };

        using var injected = await http.PostAsync("/_fake/outage?seconds=60&mode=refuse", null);
        var refusedInTime = false;
        for (var tries = 0; tries < 100 && !refusedInTime; tries++)
        {
            try { await Client.CoreV1.ListNamespaceAsync(); await Task.Delay(100); }
            // Usually a refused connect (HttpRequestException); a connect the closing listener had already taken
            // fails a moment later, as a reset, and SocketsHttpHandler lets that SocketException through unwrapped.
            catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException) { refusedInTime = true; }
        }
        _time.Advance(TimeSpan.FromSeconds(60));
        // The server sets the outage's end once its listener has closed, which can come after the refusal the loop saw
        // and so after the advance: time then moves on a second at a time until the end's timer has fired.
        var serving = Server.WhenServingAsync();
        for (var waited = TimeSpan.Zero; !serving.IsCompleted && waited < Patience; waited += TimeSpan.FromMilliseconds(100))
        {
            await Task.WhenAny(serving, Task.Delay(100));
            if (!serving.IsCompleted)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
                serving = Server.WhenServingAsync();
            }
        }
        await serving.WaitAsync(Patience);

        Assert.That(injected.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(refusedInTime, Is.True);
        Assert.That((await Client.CoreV1.ListNamespaceAsync()).Items, Is.Not.Empty);
    }
}
