using System.Threading.Channels;
using ARSoft.Tools.Net;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Controllers;

/// <summary>
/// When changes reach DNS (at once after a quiet spell, together at the end of the coalescing window in a burst), and
/// the feed's seam for node liveness: unreachable nodes reach the published zone, and stay set across a new domain.
/// </summary>
public sealed class ZoneFeedTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static Informer<SliceView> Fixed(params SliceView[] slices) => Listed(Kinds.EndpointSlice, slices);

    private static Informer<ServiceView> Fixed(params ServiceView[] services) => Listed(Kinds.Service, services);

    /// <summary>An informer whose LIST holds <paramref name="listed"/>; every write to <paramref name="events"/> (none without) is a watch event.</summary>
    private static Informer<T> Listed<T>(ResourceKind kind, T[] listed, ChannelReader<T>? events = null)
        where T : class, IKubernetesObject<V1ObjectMeta> => new(new ListWatch<T>
    {
        Kind = kind,
        List = (_, _, _) => Task.FromResult(new ListPage<T>(listed, "1", null)),
        Watch = (_, _, _, ct) => Modified(events ?? Channel.CreateUnbounded<T>().Reader, ct),
    }, NullLogger<Informer<T>>.Instance);

    private static async IAsyncEnumerable<(WatchEventType, T)> Modified<T>(ChannelReader<T> events,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var item in events.ReadAllAsync(ct))
            yield return (WatchEventType.Modified, item);
    }

    private static SliceView SliceOn(string service, params (string Address, string Node)[] endpoints)
    {
        var slice = Slice("default", service, service + "-1", "IPv4", endpoints.Select(e =>
        {
            var endpoint = Endpoint(e.Address);
            endpoint.NodeName = e.Node;
            return endpoint;
        }));
        return SliceView.From(slice);
    }

    private static async Task<string[]> AnswerAsync(ZoneHolder zones, string name, Func<string[], bool> until)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var v4 = zones.Current.Find(DomainName.Parse(name)).Node?.V4.Select(a => a.ToString()).Order().ToArray() ?? [];
            if (until(v4) || DateTime.UtcNow > deadline)
                return v4;
            await Task.Delay(20);
        }
    }

    [Test]
    public async Task Unreachable_nodes_reach_the_zone_and_survive_a_new_domain()
    {
        var settings = new ZoneSettings();
        var zones = new ZoneHolder(Zone.Empty(settings));
        var feed = new ZoneFeed(zones, settings, NullLogger<ZoneFeed>.Instance, TimeSpan.Zero);
        var services = Fixed(ServiceView.From(Service("default", "web")));
        var slices = Fixed(SliceOn("web", ("10.244.1.5", "node-a"), ("10.244.2.5", "node-b")));
        feed.Attach(services);
        feed.Attach(slices);
        using var stop = new CancellationTokenSource();
        var running = Task.WhenAll(services.RunAsync(stop.Token), slices.RunAsync(stop.Token), feed.RunAsync(stop.Token));
        Assert.That(await AnswerAsync(zones, "web.default.minilb", a => a.Length == 2), Has.Length.EqualTo(2));

        feed.SetUnreachableNodes(new HashSet<string> { "node-a" });
        Assert.That(await AnswerAsync(zones, "web.default.minilb", a => a.Length == 1), Is.EqualTo(new[] { "10.244.2.5" }));

        feed.Reconfigure(settings with { Domain = "lan" });
        Assert.That(await AnswerAsync(zones, "web.default.lan", a => a.Length == 1), Is.EqualTo(new[] { "10.244.2.5" }),
            "the rebuilt model keeps the unreachable nodes");

        await stop.CancelAsync();
        await running.WaitAsync(Wait);
    }

    [Test]
    public async Task What_the_model_skips_is_logged_as_a_Warning_naming_the_object()
    {
        var settings = new ZoneSettings();
        var zones = new ZoneHolder(Zone.Empty(settings));
        var log = new CapturingLogger<ZoneFeed>();
        var feed = new ZoneFeed(zones, settings, log, TimeSpan.Zero);
        var odd = Service("default", "web");
        odd.Metadata.Annotations = new Dictionary<string, string> { [ServedService.ExcludeAnnotation] = "yes" };
        var endpoint = Endpoint("10.244.1.5");
        endpoint.Hostname = "DB_0";
        var services = Fixed(ServiceView.From(odd));
        var slices = Fixed(SliceView.From(Slice("default", "web", "web-1", "IPv4", [endpoint])));
        feed.Attach(services);
        feed.Attach(slices);
        using var stop = new CancellationTokenSource();
        var running = Task.WhenAll(services.RunAsync(stop.Token), slices.RunAsync(stop.Token), feed.RunAsync(stop.Token));

        Assert.That(await AnswerAsync(zones, "web.default.minilb", a => a.Length == 1), Is.EqualTo(new[] { "10.244.1.5" }), "not excluded");
        var warnings = log.Entries.Where(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning).Select(e => e.Message).ToArray();
        Assert.That(warnings, Has.One.EqualTo("Service default/web: annotation minilb/exclude: 'yes' is not \"true\" or \"false\"; treated as not excluded"));
        Assert.That(warnings, Has.One.StartWith("EndpointSlice default/web-1: skipped 1 endpoints.hostname that are not DNS labels"));

        await stop.CancelAsync();
        await running.WaitAsync(Wait);
    }

    /// <summary>A slice informer fed by the test: the LIST holds <paramref name="listed"/>, then every write to the channel is a watch event.</summary>
    private static Informer<SliceView> Fed(Channel<SliceView> events, params SliceView[] listed) => Listed(Kinds.EndpointSlice, listed, events.Reader);

    private static SliceView Version(string version, params string[] addresses)
    {
        var slice = Slice("default", "web", "web-1", "IPv4", Ready(addresses));
        slice.Metadata.ResourceVersion = version;
        return SliceView.From(slice);
    }

    /// <summary>Sends a watch event and returns once the feed's handler (subscribed before this one) has taken it.</summary>
    private static async Task SendAsync(Informer<SliceView> slices, Channel<SliceView> events, SliceView slice)
    {
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = slices.Subscribe(change =>
        {
            if (change.New?.ResourceVersion == slice.ResourceVersion)
                taken.TrySetResult();
        });
        await events.Writer.WriteAsync(slice);
        await taken.Task.WaitAsync(Wait);
    }

    [Test]
    public async Task A_change_after_a_quiet_spell_is_answered_at_once_and_changes_right_after_it_together_at_the_end_of_the_window()
    {
        var time = new FakeTimeProvider();
        var settings = new ZoneSettings();
        var zones = new ZoneHolder(Zone.Empty(settings));
        var feed = new ZoneFeed(zones, settings, NullLogger<ZoneFeed>.Instance, TimeSpan.FromMilliseconds(20), time);
        var published = 0;
        feed.Published += _ => Interlocked.Increment(ref published);
        var events = Channel.CreateUnbounded<SliceView>();
        var services = Fixed(ServiceView.From(Service("default", "web")));
        var slices = Fed(events, Version("1", "10.244.1.5"));
        feed.Attach(services);
        feed.Attach(slices);
        using var stop = new CancellationTokenSource();
        var running = Task.WhenAll(services.RunAsync(stop.Token), slices.RunAsync(stop.Token), feed.RunAsync(stop.Token));
        await Task.WhenAll(services.WaitForSyncAsync(stop.Token), slices.WaitForSyncAsync(stop.Token)).WaitAsync(Wait);
        time.Advance(TimeSpan.FromSeconds(1)); // the LISTs' own window ends: their zone is published
        Assert.That(await AnswerAsync(zones, "web.default.minilb", a => a.Length == 1), Is.EqualTo(new[] { "10.244.1.5" }));
        time.Advance(TimeSpan.FromSeconds(1));
        var before = Volatile.Read(ref published);

        await SendAsync(slices, events, Version("2", "10.244.1.6"));
        Assert.That(Address(zones), Is.EqualTo("10.244.1.6"), "published by the change itself, with no time passing");
        Assert.That(Volatile.Read(ref published), Is.EqualTo(before + 1));

        await SendAsync(slices, events, Version("3", "10.244.1.7"));
        await SendAsync(slices, events, Version("4", "10.244.1.8"));
        Assert.That(Address(zones), Is.EqualTo("10.244.1.6"), "changes within the window wait for its end");
        time.Advance(TimeSpan.FromMilliseconds(19));
        Assert.That(Address(zones), Is.EqualTo("10.244.1.6"));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(await AnswerAsync(zones, "web.default.minilb", a => a.SequenceEqual(["10.244.1.8"])), Is.EqualTo(new[] { "10.244.1.8" }));
        Assert.That(Volatile.Read(ref published), Is.EqualTo(before + 2), "both changes in one zone");

        time.Advance(TimeSpan.FromMilliseconds(20));
        await SendAsync(slices, events, Version("5", "10.244.1.9"));
        Assert.That(Address(zones), Is.EqualTo("10.244.1.9"), "quiet again: at once");

        await stop.CancelAsync();
        await running.WaitAsync(Wait);
    }

    private static string Address(ZoneHolder zones) =>
        string.Join(",", zones.Current.Find(DomainName.Parse("web.default.minilb")).Node?.V4.Select(a => a.ToString()) ?? []);
}
