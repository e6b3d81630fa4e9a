using System.Collections.Concurrent;
using System.Threading.Channels;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.Kube.ScriptedApiServer;

namespace MiniLb.Operator.Tests.Kube;

public sealed class InformerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private ScriptedApiServer server = null!;
    private RecordingTimeProvider time = null!;
    private CancellationTokenSource stop = null!;
    private Task running = Task.CompletedTask;
    private Channel<string> changes = null!;

    [SetUp]
    public async Task StartServer()
    {
        server = await StartAsync();
        time = new RecordingTimeProvider();
        stop = new CancellationTokenSource();
        changes = Channel.CreateUnbounded<string>();
        running = Task.CompletedTask;
    }

    [TearDown]
    public async Task StopEverything()
    {
        await stop.CancelAsync();
        await running.WaitAsync(Wait);
        await server.DisposeAsync();
        stop.Dispose();
    }

    [Test]
    public async Task Lists_then_watches_from_the_lists_resourceVersion_and_tracks_every_event_and_bookmark()
    {
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100", Service("a", "10"), Service("b", "11"))));
        var first = Channel.CreateUnbounded<string>();
        server.Once(IsWatch("/api/v1/services"), Stream(first.Reader));
        server.Once(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        var informer = Run(WatchedKinds.Services(server.Client()));

        var list = await server.NextRequestAsync();
        Assert.That(list.IsWatch, Is.False);
        Assert.That(list.Query["limit"].ToString(), Is.EqualTo("500"));
        await informer.WaitForSyncAsync(new CancellationTokenSource(Wait).Token);
        Assert.That(informer.Keys, Is.EquivalentTo(new[] { "default/a", "default/b" }));

        var watch = await server.NextRequestAsync();
        Assert.That(watch.IsWatch, Is.True);
        Assert.That(watch.Query["resourceVersion"].ToString(), Is.EqualTo("100"));
        Assert.That(watch.Query["allowWatchBookmarks"].ToString(), Is.EqualTo("true"));
        Assert.That(int.Parse(watch.Query["timeoutSeconds"].ToString()), Is.InRange(300, 600));

        await first.Writer.WriteAsync(Event("ADDED", Service("c", "101")));
        await first.Writer.WriteAsync(Event("MODIFIED", Service("a", "102")));
        await first.Writer.WriteAsync(Event("DELETED", Service("b", "103")));
        await first.Writer.WriteAsync(Event("BOOKMARK", """{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"160"}}"""));
        first.Writer.Complete();

        Assert.That(await NextChangesAsync(5), Is.EqualTo(new[]
        {
            "Added default/a@10", "Added default/b@11", "Added default/c@101", "Modified default/a@102", "Deleted default/b@11",
        }));
        var resumed = await server.NextRequestAsync();
        Assert.That(resumed.IsWatch, Is.True, "a watch the server closed is resumed, not relisted");
        Assert.That(resumed.Query["resourceVersion"].ToString(), Is.EqualTo("160"), "the bookmark's version is where the watch resumes");
        Assert.That(informer.Get("default/a")?.ResourceVersion, Is.EqualTo("102"));
    }

    [Test]
    public async Task The_cache_keeps_the_projection_of_an_object_not_its_managedFields_or_last_applied_copy()
    {
        const string managed = ""","managedFields":[{"manager":"kubectl","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}],"annotations":{"minilb/host":"www.example.com","kubectl.kubernetes.io/last-applied-configuration":"{\"kind\":\"Service\"}"}""";
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100", Service("a", "10").Replace("\"}}", "\"" + managed + "}}"))));
        var watch = Channel.CreateUnbounded<string>();
        server.Once(IsWatch("/api/v1/services"), Stream(watch.Reader));
        var informer = Run(WatchedKinds.Services(server.Client()));
        await informer.WaitForSyncAsync(new CancellationTokenSource(Wait).Token);
        await watch.Writer.WriteAsync(Event("ADDED", Service("b", "101").Replace("\"}}", "\"" + managed + "}}")));

        Assert.That(await NextChangesAsync(2), Is.EqualTo(new[] { "Added default/a@10", "Added default/b@101" }));
        Assert.That(informer.Get("default/a"), Is.TypeOf<ServiceView>(), "listed: a projection, no model object");
        Assert.That(informer.Get("default/b")?.ResourceVersion, Is.EqualTo("101"), "watched: the version is kept");
        Assert.That(informer.Get("default/a")?.Aliases, Is.EqualTo(new[] { "www.example.com" }), "the annotation minilb reads is kept");
        Assert.That(informer.Get("default/b")?.Aliases, Is.EqualTo(new[] { "www.example.com" }));
    }

    [Test]
    public async Task An_expired_watch_lists_again_and_reports_objects_that_vanished_meanwhile_as_deleted()
    {
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100", Service("a", "10"), Service("b", "11"))));
        var watch = Channel.CreateUnbounded<string>();
        server.Once(IsWatch("/api/v1/services"), Stream(watch.Reader));
        server.Once(IsList("/api/v1/services"), Json(ServiceList("200", Service("a", "20"), Service("c", "21"))));
        server.Once(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        var informer = Run(WatchedKinds.Services(server.Client()));
        await NextChangesAsync(2);

        // The API server reports a compacted resourceVersion as an ERROR event in a 200 response.
        await watch.Writer.WriteAsync(Event("ERROR",
            """{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 100 (150)","reason":"Expired","code":410}"""));

        Assert.That(await NextChangesAsync(3), Is.EquivalentTo(new[] { "Modified default/a@20", "Added default/c@21", "Deleted default/b@11" }));
        Assert.That(informer.Keys, Is.EquivalentTo(new[] { "default/a", "default/c" }));
        var requests = await Requests(4);
        Assert.That(requests[2].IsWatch, Is.False, "410 leads to a LIST");
        Assert.That(requests[3].Query["resourceVersion"].ToString(), Is.EqualTo("200"));
    }

    [Test]
    public async Task A_server_that_keeps_expiring_fresh_lists_is_not_hammered()
    {
        server.Always(IsList("/api/v1/services"), Json(ServiceList("100")));
        server.Always(IsWatch("/api/v1/services"), Json(Event("ERROR",
            """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Expired","code":410}""")));
        Run(WatchedKinds.Services(server.Client()));

        var delay = await time.NextTimerAsync(d => d < TimeSpan.FromMinutes(1));

        Assert.That(delay, Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(server.Requests.Select(r => r.IsWatch), Is.EqualTo(new[] { false, true, false, true }),
            "the first expiry relists at once, the second waits");
    }

    [Test]
    public async Task Failed_watches_are_retried_with_capped_exponential_backoff()
    {
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100", Service("a", "10"))));
        for (var i = 0; i < 4; i++)
            server.Once(IsWatch("/api/v1/services"), Status(500, "InternalError"));
        server.Once(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        Run(WatchedKinds.Services(server.Client()), new InformerOptions
        {
            Reconnect = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)),
            Random = () => 0,
        });

        var delays = new List<TimeSpan>();
        await server.NextRequestAsync();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var request = await server.NextRequestAsync();
            Assert.That(request.IsWatch, Is.True);
            Assert.That(request.Query["resourceVersion"].ToString(), Is.EqualTo("100"), "a failed watch resumes, it does not relist");
            var delay = await time.NextTimerAsync(d => d < TimeSpan.FromMinutes(1));
            delays.Add(delay);
            time.Advance(delay);
        }
        Assert.That(delays, Is.EqualTo(new[] { 1, 2, 4, 4 }.Select(s => TimeSpan.FromSeconds(s))));
        Assert.That((await server.NextRequestAsync()).IsWatch, Is.True);
    }

    [Test]
    public async Task Too_many_requests_waits_as_long_as_Retry_After_says()
    {
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100")));
        server.Once(IsWatch("/api/v1/services"), Status(429, "TooManyRequests", new Dictionary<string, string> { ["Retry-After"] = "7" }));
        server.Once(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        Run(WatchedKinds.Services(server.Client()), new InformerOptions { Random = () => 0 });

        await Requests(2);
        var delay = await time.NextTimerAsync(d => d < TimeSpan.FromMinutes(1));
        Assert.That(delay, Is.EqualTo(TimeSpan.FromSeconds(7)));
        Assert.That(server.Requests, Has.Count.EqualTo(2), "nothing is sent before Retry-After has passed");
        time.Advance(delay);
        Assert.That((await server.NextRequestAsync()).IsWatch, Is.True);
    }

    [Test]
    public async Task A_silent_watch_is_reopened_by_the_watchdog()
    {
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100")));
        server.Always(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        Run(WatchedKinds.Services(server.Client()), new InformerOptions
        {
            WatchTimeout = TimeSpan.FromSeconds(10),
            WatchdogGrace = TimeSpan.FromSeconds(5),
            Random = () => 0,
        });

        var watch = (await Requests(2))[1];
        Assert.That(watch.Query["timeoutSeconds"].ToString(), Is.EqualTo("10"));
        var watchdog = await time.NextTimerAsync();
        Assert.That(watchdog, Is.EqualTo(TimeSpan.FromSeconds(15)), "timeoutSeconds plus the grace");
        time.Advance(watchdog);
        var reopened = await server.NextRequestAsync();
        Assert.That(reopened.IsWatch, Is.True);
        Assert.That(reopened.Query["resourceVersion"].ToString(), Is.EqualTo("100"));
    }

    [Test]
    public async Task A_paged_list_is_read_to_the_end()
    {
        server.Once(r => IsList("/api/v1/services")(r) && r.Query["continue"].Count == 0,
            Json("""{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"100","continue":"page2"},"items":[""" + Service("a", "10") + "]}"));
        server.Once(r => IsList("/api/v1/services")(r) && r.Query["continue"] == "page2", Json(ServiceList("100", Service("b", "11"))));
        server.Always(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        var informer = Run(WatchedKinds.Services(server.Client()), new InformerOptions { PageSize = 1 });

        await informer.WaitForSyncAsync(new CancellationTokenSource(Wait).Token);
        Assert.That(informer.Keys, Is.EquivalentTo(new[] { "default/a", "default/b" }));
        Assert.That((await Requests(3))[2].Query["resourceVersion"].ToString(), Is.EqualTo("100"));
    }

    [Test]
    public async Task A_kind_the_server_does_not_serve_is_reported_once_and_watched_when_its_CRD_appears()
    {
        const string path = "/apis/minilb.io/v1alpha1/minilbconfigs";
        server.Once(IsList(path), Status(404, "NotFound"));
        server.Once(IsList(path), Status(404, "NotFound"));
        server.Once(IsList(path), Json("""
            {"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfigList","metadata":{"resourceVersion":"7"},
             "items":[{"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfig","metadata":{"name":"default","resourceVersion":"6"},"spec":{"domain":"lan","ttl":30}}]}
            """));
        server.Always(IsWatch(path), Stream(Channel.CreateUnbounded<string>().Reader));
        var log = new CapturingLogger<Informer<MiniLbConfig>>();
        var informer = new Informer<MiniLbConfig>(MiniLb.Operator.Controllers.MiniLbConfigKind.ListWatch(server.Client()), log, time, new InformerOptions { Random = () => 0 });
        informer.Subscribe(e => changes.Writer.TryWrite($"{e.Type} {Informer<MiniLbConfig>.KeyOf((e.New ?? e.Old)!)}"));
        running = informer.RunAsync(stop.Token);

        for (var lookup = 0; lookup < 2; lookup++)
        {
            await server.NextRequestAsync();
            var retry = await time.NextTimerAsync();
            Assert.That(retry, Is.EqualTo(TimeSpan.FromSeconds(1 << lookup)), "looked for again with backoff, from 1 s");
            Assert.That(informer.IsAbsent, Is.True);
            Assert.That(informer.HasSynced, Is.True, "an absent kind must not hold up readiness");
            time.Advance(retry);
        }

        Assert.That(await NextChangesAsync(1), Is.EqualTo(new[] { "Added default" }));
        Assert.That(informer.IsAbsent, Is.False);
        Assert.That(informer.Get("default")?.Spec, Has.Property("Domain").EqualTo("lan").And.Property("Ttl").EqualTo(30)
            .And.Property("Listen").EqualTo(MiniLbConfigSpec.DefaultListen));
        Assert.That(log.Messages.Count(m => m.Contains("not served")), Is.EqualTo(1), string.Join("\n", log.Messages));
        Assert.That(log.Messages.Count(m => m.Contains("now served")), Is.EqualTo(1));
        var watch = (await Requests(4))[3];
        Assert.That(watch.IsWatch && watch.Query["resourceVersion"] == "7", Is.True);
    }

    [Test]
    public async Task An_error_event_other_than_expired_backs_off_and_resumes_without_listing()
    {
        server.Once(IsList("/api/v1/services"), Json(ServiceList("100", Service("a", "10"))));
        var watch = Channel.CreateUnbounded<string>();
        server.Once(IsWatch("/api/v1/services"), Stream(watch.Reader));
        server.Once(IsWatch("/api/v1/services"), Stream(Channel.CreateUnbounded<string>().Reader));
        Run(WatchedKinds.Services(server.Client()));
        await Requests(2);

        await watch.Writer.WriteAsync(Event("ADDED", Service("b", "101")));
        await watch.Writer.WriteAsync(Event("ERROR",
            """{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd is sad","reason":"InternalError","code":500}"""));

        Assert.That(await time.NextTimerAsync(d => d < TimeSpan.FromMinutes(1)), Is.EqualTo(TimeSpan.FromSeconds(1)));
        time.Advance(TimeSpan.FromSeconds(1));
        var resumed = await server.NextRequestAsync();
        Assert.That(resumed.IsWatch, Is.True);
        Assert.That(resumed.Query["resourceVersion"].ToString(), Is.EqualTo("101"));
    }

    [Test]
    public async Task A_CRD_removed_while_watched_reports_its_objects_deleted_and_waits_for_it_to_return()
    {
        const string path = "/apis/minilb.io/v1alpha1/minilbconfigs";
        server.Once(IsList(path), Json("""
            {"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfigList","metadata":{"resourceVersion":"7"},
             "items":[{"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfig","metadata":{"name":"default","resourceVersion":"6"}}]}
            """));
        server.Once(IsWatch(path), Status(404, "NotFound"));
        server.Once(IsList(path), Status(404, "NotFound"));
        var informer = new Informer<MiniLbConfig>(MiniLb.Operator.Controllers.MiniLbConfigKind.ListWatch(server.Client()), new CapturingLogger<Informer<MiniLbConfig>>(),
            time, new InformerOptions { Random = () => 0 });
        informer.Subscribe(e => changes.Writer.TryWrite($"{e.Type} {Informer<MiniLbConfig>.KeyOf((e.New ?? e.Old)!)}"));
        running = informer.RunAsync(stop.Token);

        Assert.That(await NextChangesAsync(2), Is.EqualTo(new[] { "Added default", "Deleted default" }));
        Assert.That(await time.NextTimerAsync(d => d < TimeSpan.FromMinutes(1)), Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(informer.IsAbsent, Is.True);
        Assert.That(informer.Items, Is.Empty);
    }

    [Test]
    public async Task An_absent_kind_is_looked_for_with_backoff_up_to_the_discovery_interval_and_logged_once()
    {
        const string path = "/apis/minilb.io/v1alpha1/minilbconfigs";
        server.Always(IsList(path), Status(404, "NotFound"));
        var log = new CapturingLogger<Informer<MiniLbConfig>>();
        var informer = new Informer<MiniLbConfig>(MiniLb.Operator.Controllers.MiniLbConfigKind.ListWatch(server.Client()), log, time, new InformerOptions { Random = () => 0 });
        running = informer.RunAsync(stop.Token);

        var waits = new List<TimeSpan>();
        for (var lookup = 0; lookup < 8; lookup++)
        {
            await server.NextRequestAsync();
            waits.Add(await time.NextTimerAsync());
            time.Advance(waits[^1]);
        }

        Assert.That(waits.Select(w => w.TotalSeconds), Is.EqualTo(new double[] { 1, 2, 4, 8, 16, 30, 30, 30 }));
        var lines = log.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Information).Select(e => e.Message).ToList();
        Assert.That(lines, Has.Count.EqualTo(1), "one line in words, no stack trace, no line per look: " + string.Join("\n", lines));
        Assert.That(lines[0], Does.Contain("not served by the API server (is its CRD installed?)"));
    }

    [Test]
    public async Task An_optional_kind_is_looked_for_only_every_discovery_interval_and_watched_when_its_CRD_appears()
    {
        const string path = "/apis/gateway.networking.k8s.io/v1/gateways";
        for (var absent = 0; absent < 3; absent++)
            server.Once(IsList(path), Status(404, "NotFound"));
        server.Once(IsList(path), Json("""
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayList","metadata":{"resourceVersion":"9"},
             "items":[{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"web","namespace":"apps","resourceVersion":"8"}}]}
            """));
        server.Always(IsWatch(path), Stream(Channel.CreateUnbounded<string>().Reader));
        var log = new CapturingLogger<Informer<V1Gateway>>();
        var informer = new Informer<V1Gateway>(ListWatches.Custom(server.Client(), Kinds.Gateway, GatewayJson.Default.V1Gateway), log, time,
            new InformerOptions { Random = () => 0 });
        informer.Subscribe(e => changes.Writer.TryWrite($"{e.Type} {Informer<V1Gateway>.KeyOf((e.New ?? e.Old)!)}"));
        running = informer.RunAsync(stop.Token);

        for (var lookup = 0; lookup < 3; lookup++)
        {
            await server.NextRequestAsync();
            var retry = await time.NextTimerAsync();
            Assert.That(retry, Is.EqualTo(TimeSpan.FromSeconds(30)), "no quick backoff for an add-on API the cluster may never install");
            Assert.That(informer.HasSynced && informer.IsAbsent, Is.True, "an absent kind must not hold up readiness");
            time.Advance(retry);
        }

        Assert.That(await NextChangesAsync(1), Is.EqualTo(new[] { "Added apps/web" }));
        Assert.That(informer.IsAbsent, Is.False);
        Assert.That(log.Messages.Count(m => m.Contains("not served")), Is.EqualTo(1), string.Join("\n", log.Messages));
        Assert.That(log.Messages.Single(m => m.Contains("not served")), Does.Contain("looking again every 00:00:30"));
    }

    [Test]
    public async Task Absent_Gateway_API_kinds_cost_one_discovery_look_per_interval_and_no_LIST_until_their_kind_is_served()
    {
        const string discovery = "/apis/gateway.networking.k8s.io/v1";
        string[] paths = [discovery + "/gateways", discovery + "/httproutes"];
        foreach (var path in paths)
            server.Once(IsList(path), Status(404, "NotFound"));
        server.Once(r => r.Path == discovery, Status(404, "NotFound"));
        server.Once(r => r.Path == discovery, Json("""
            {"kind":"APIResourceList","apiVersion":"v1","groupVersion":"gateway.networking.k8s.io/v1",
             "resources":[{"name":"gateways","namespaced":true,"kind":"Gateway","verbs":["list","watch"]},{"name":"gateways/status","namespaced":true,"kind":"Gateway","verbs":["get"]}]}
            """));
        server.Once(IsList(paths[0]), Json("""
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayList","metadata":{"resourceVersion":"9"},
             "items":[{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"web","namespace":"apps","resourceVersion":"8"}}]}
            """));
        server.Always(IsWatch(paths[0]), Stream(Channel.CreateUnbounded<string>().Reader));
        var interval = TimeSpan.FromSeconds(30);
        var client = server.Client();
        var options = new InformerOptions { Random = () => 0, Groups = GroupDiscovery.Over(client, time, interval / 2) };
        var gateways = new Informer<V1Gateway>(ListWatches.Custom(client, Kinds.Gateway, GatewayJson.Default.V1Gateway), new CapturingLogger<Informer<V1Gateway>>(), time, options);
        var routes = new Informer<V1HttpRoute>(ListWatches.Custom(client, Kinds.HttpRoute, GatewayJson.Default.V1HttpRoute), new CapturingLogger<Informer<V1HttpRoute>>(), time, options);
        gateways.Subscribe(e => changes.Writer.TryWrite($"{e.Type} {Informer<V1Gateway>.KeyOf((e.New ?? e.Old)!)}"));
        running = Task.WhenAll(gateways.RunAsync(stop.Token), routes.RunAsync(stop.Token));

        async Task<List<string>> AfterAnInterval(int requests)
        {
            for (var waiting = 0; waiting < 2; waiting++)
                await time.NextTimerAsync(d => d == interval);
            time.Advance(interval);
            var seen = new List<string>();
            for (var i = 0; i < requests; i++)
                seen.Add(await server.NextRequestAsync() is var r ? $"{r.Method} {r.Path}" : "");
            return seen;
        }

        Assert.That(new[] { (await server.NextRequestAsync()).Path, (await server.NextRequestAsync()).Path }, Is.EquivalentTo(paths),
            "each kind is LISTed once at start");
        Assert.That(await AfterAnInterval(1), Is.EqualTo(new[] { "GET " + discovery }), "one look (404) for both kinds, no LIST");
        Assert.That(gateways.IsAbsent && routes.IsAbsent, Is.True);
        Assert.That(await AfterAnInterval(2), Is.EqualTo(new[] { "GET " + discovery, "GET " + paths[0] }),
            "one look, which lists Gateway: only Gateway is LISTed");

        Assert.That(await NextChangesAsync(1), Is.EqualTo(new[] { "Added apps/web" }), "the kind now listed is LISTed and watched");
        Assert.That(gateways.IsAbsent, Is.False);
        Assert.That(routes.IsAbsent, Is.True, "HTTPRoute is still not in the list: not LISTed");
        Assert.That(server.Requests.Count(r => r.Path == paths[1]), Is.EqualTo(1));
    }

    private Informer<ServiceView> Run(ListWatch<ServiceView> source, InformerOptions? options = null)
    {
        var informer = new Informer<ServiceView>(source, new CapturingLogger<Informer<ServiceView>>(), time, options ?? new InformerOptions { Random = () => 0 });
        informer.Subscribe(e => changes.Writer.TryWrite($"{e.Type} {Informer<ServiceView>.KeyOf((e.New ?? e.Old)!)}@{(e.New ?? e.Old)!.ResourceVersion}"));
        running = informer.RunAsync(stop.Token);
        return informer;
    }

    private async Task<List<string>> NextChangesAsync(int count)
    {
        using var timeout = new CancellationTokenSource(Wait);
        var result = new List<string>();
        while (result.Count < count)
            result.Add(await changes.Reader.ReadAsync(timeout.Token));
        return result;
    }

    /// <summary>Waits until the stub has seen <paramref name="count"/> requests and returns them in order.</summary>
    private async Task<List<SeenRequest>> Requests(int count)
    {
        while (server.Requests.Count < count)
            await server.NextRequestAsync();
        return server.Requests.ToList();
    }

    private static Func<SeenRequest, bool> IsList(string path) => r => r.Method == "GET" && r.Path == path && !r.IsWatch;

    private static Func<SeenRequest, bool> IsWatch(string path) => r => r.Method == "GET" && r.Path == path && r.IsWatch;

    private static string Service(string name, string version) =>
        $$$"""{"kind":"Service","apiVersion":"v1","metadata":{"name":"{{{name}}}","namespace":"default","resourceVersion":"{{{version}}}"}}""";

    private static string ServiceList(string version, params string[] items) =>
        $$"""{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"{{version}}"},"items":[{{string.Join(",", items)}}]}""";
}
