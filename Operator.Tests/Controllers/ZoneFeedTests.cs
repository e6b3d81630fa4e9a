using ARSoft.Tools.Net;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Controllers;

/// <summary>The feed's seam for node liveness: unreachable nodes reach the published zone, and stay set across a new domain.</summary>
public sealed class ZoneFeedTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static Informer<SliceView> Fixed(params SliceView[] slices) => new(new ListWatch<SliceView>
    {
        Kind = Kinds.EndpointSlice,
        List = (_, _, _) => Task.FromResult(new ListPage<SliceView>(slices, "1", null)),
        Watch = (_, _, _, ct) => Forever<SliceView>(ct),
    }, NullLogger<Informer<SliceView>>.Instance);

    private static Informer<ServiceView> Fixed(params ServiceView[] services) => new(new ListWatch<ServiceView>
    {
        Kind = Kinds.Service,
        List = (_, _, _) => Task.FromResult(new ListPage<ServiceView>(services, "1", null)),
        Watch = (_, _, _, ct) => Forever<ServiceView>(ct),
    }, NullLogger<Informer<ServiceView>>.Instance);

    private static async IAsyncEnumerable<(WatchEventType, T)> Forever<T>([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        yield break;
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
}
