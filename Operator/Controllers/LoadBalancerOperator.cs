using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Controllers;

public sealed record OperatorOptions
{
    /// <summary>The MiniLbConfig in use (`--config`).</summary>
    public string ConfigName { get; init; } = MiniLbConfig.DefaultName;

    /// <summary>Leader election over a Lease; null means this replica always leads (`--leader-election false`).</summary>
    public LeaseLeadershipOptions? Lease { get; init; }

    /// <summary>The spec in effect while no MiniLbConfig exists: the flags of `minilb run` over the CRD's defaults.</summary>
    public MiniLbConfigSpec Defaults { get; init; } = new();

    /// <summary>The flags that set <see cref="Defaults"/>, named in the log and the ConfigSource condition when a MiniLbConfig overrides them.</summary>
    public IReadOnlyList<GivenFlag> Flags { get; init; } = [];

    /// <summary>How long changes are gathered before a new zone is published.</summary>
    public TimeSpan Coalesce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How long after a zone change the MiniLbConfig status (served counts) is brought up to date: the changes of
    /// a rollout, many a second, make one status reconcile, not one each. At 10,000 Services a status reconcile and
    /// its write cost about as much as ten EndpointSlice changes; 5 s keeps them a small share of a churn's CPU.
    /// </summary>
    public TimeSpan StatusDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a configuration that could not be applied (a port in use) is tried again.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How nodes are probed; null: a TCP connection attempt (<see cref="TcpNodeProbe"/>). Tests put a fake in.</summary>
    public INodeProbe? NodeProbe { get; init; }

    public InformerOptions? Informers { get; init; }
    public DnsHostOptions? Dns { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// `minilb run`: informers for every kind DNS needs feed the zone (<see cref="ZoneFeed"/>) and the controllers;
/// the selected MiniLbConfig is applied live (<see cref="LiveConfig"/>). Every replica watches and answers DNS;
/// only the leader writes status and events.
/// </summary>
public sealed class LoadBalancerOperator : IAsyncDisposable
{
    private readonly OperatorOptions options;
    private readonly ILogger log;
    private readonly Informer<MiniLbConfig> configs;
    private readonly ZoneFeed feed;
    private readonly OperatorFacts facts;
    private string? loggedRoutes;
    private IReadOnlyDictionary<string, System.Net.IPAddress> livenessTargets = new Dictionary<string, System.Net.IPAddress>();
    private int livenessTargetsStale = 1;

    public LoadBalancerOperator(IKubernetes client, OperatorOptions options, ILoggerFactory loggers)
    {
        this.options = options;
        log = loggers.CreateLogger<LoadBalancerOperator>();
        Access = new AccessProblems(client, loggers.CreateLogger<AccessProblems>(), options.Time);
        Leadership = options.Lease is { } lease
            ? new LeaseLeadership(client, lease, loggers.CreateLogger<LeaseLeadership>(), options.Time) { Access = Access }
            : new AlwaysLeader();
        var informers = options.Informers ?? new InformerOptions();
        Host = new OperatorHost(Leadership, loggers, options.Time, informers with
        {
            Access = Access,
            // One look per group version and interval for absent Gateway API kinds; fresh for half an interval, so their informers share it.
            Groups = informers.Groups ?? GroupDiscovery.Over(client, options.Time, informers.DiscoveryInterval / 2),
        });
        var initial = LiveConfig.TryRead(options.Defaults, out var defaults, out _) ? defaults.Zone : new ZoneSettings();
        Zones = new ZoneHolder(Zone.Empty(initial));
        Config = new LiveConfig(options.ConfigName, Zones, loggers, options.Defaults, options.Dns, options.Flags);
        feed = new ZoneFeed(Zones, initial, loggers.CreateLogger<ZoneFeed>(), options.Coalesce, options.Time);

        var services = Host.Watch(WatchedKinds.Services(client));
        var slices = Host.Watch(WatchedKinds.EndpointSlices(client));
        Nodes = Host.Watch(WatchedKinds.Nodes(client));
        configs = Host.Watch(MiniLbConfigKind.ListWatch(client));
        feed.Attach(services);
        feed.Attach(slices);
        feed.Attach(Nodes);
        feed.Attach(Host.Watch(ListWatches.Ingresses(client)));
        feed.Attach(Host.Watch(ListWatches.Custom(client, Kinds.Gateway, GatewayJson.Default.V1Gateway)));
        feed.Attach(Host.Watch(ListWatches.Custom(client, Kinds.HttpRoute, GatewayJson.Default.V1HttpRoute)));
        feed.Attach(Host.Watch(ListWatches.Custom(client, Kinds.GrpcRoute, GatewayJson.Default.V1GrpcRoute)));
        feed.Attach(Host.Watch(ListWatches.Custom(client, Kinds.TlsRoute, GatewayJson.Default.V1Alpha2TlsRoute)));

        var status = new StatusWriter(client, Leadership, loggers.CreateLogger<StatusWriter>());
        var events = new EventPublisher(client, Leadership, loggers.CreateLogger<EventPublisher>(), options.Time)
        {
            Instance = options.Lease?.Identity ?? System.Net.Dns.GetHostName(),
            Access = Access,
        };
        Liveness = new NodeLivenessLoop(options.NodeProbe ?? new TcpNodeProbe(), loggers.CreateLogger<NodeLivenessLoop>(), options.Time)
        {
            Targets = () =>
            {
                // Recomputed only after a Service, EndpointSlice, Node or zone setting changed, not every second.
                if (Interlocked.Exchange(ref livenessTargetsStale, 0) == 1)
                    livenessTargets = LivenessTargets.Of(services.Items, slices.Items, Nodes.Items, feed.Settings);
                return livenessTargets;
            },
        };
        Liveness.Settings = LivenessSettings.From(options.Defaults.NodeLiveness);
        Liveness.UnreachableChanged += feed.SetUnreachableNodes;
        services.Subscribe(change =>
        {
            if (LivenessTargets.MayChange(change, feed.Settings))
                LivenessTargetsMayHaveChanged();
        });
        slices.Subscribe(change =>
        {
            if (LivenessTargets.MayChange(change))
                LivenessTargetsMayHaveChanged();
        });
        Nodes.Subscribe(change =>
        {
            if (LivenessTargets.MayChange(change))
                LivenessTargetsMayHaveChanged();
        });

        var inForce = new LiveConfigInForce(Config);
        var patches = new StatusPatches(status);
        var serviceRunner = Host.AddController(services, new ServiceController(inForce, patches, events));
        facts = new OperatorFacts(Nodes, slices, feed, Access, Liveness);
        var configRunner = Host.AddController(configs, new MiniLbConfigController(inForce, facts, patches, events, options.Time));
        Liveness.Changed += changes =>
        {
            configRunner.Queue.Add(options.ConfigName);
            foreach (var change in changes)
            {
                if (Nodes.Get(change.Node) is { } node)
                    _ = events.PublishAsync(node, change.Reachable ? EventType.Normal : EventType.Warning,
                        change.Reachable ? "NodeReachable" : "NodeUnreachable",
                        change.Reachable
                            ? $"minilb reaches {change.Address} again ({change.Detail}); the node's endpoints are answered again"
                            : $"minilb cannot reach {change.Address} ({change.Detail}); the node's endpoints are left out of DNS answers unless a Service has no other",
                        CancellationToken.None); // never throws; a lost event is logged by the publisher
            }
        };
        Liveness.ProbedChanged += () => configRunner.Queue.Add(options.ConfigName);
        Leadership.Changed += _ => FollowPublishedReachability(configs.Get(options.ConfigName));

        configs.Subscribe(change =>
        {
            if (((change.New ?? change.Old)!).Metadata.Name == options.ConfigName)
            {
                Config.Apply(change.New);
                Liveness.Settings = Config.Current?.Liveness ?? LivenessSettings.From(options.Defaults.NodeLiveness);
                FollowPublishedReachability(change.New);
            }
        });
        Config.Changed += () =>
        {
            LivenessTargetsMayHaveChanged();
            if (Config.Current is { } applied)
                feed.Reconfigure(applied.Zone);
            // A new domain or class restamps every Service; the config's status shows the outcome.
            foreach (var key in services.Keys)
                serviceRunner.Queue.Add(key);
            configRunner.Queue.Add(options.ConfigName);
        };
        feed.Published += _ => configRunner.Queue.AddAfter(options.ConfigName, options.StatusDelay);
        // A permission granted again: redo everything now rather than when each retry's backoff runs out.
        Access.Changed += () =>
        {
            foreach (var key in services.Keys)
                serviceRunner.Queue.Add(key);
            configRunner.Queue.Add(options.ConfigName);
        };
        Nodes.Subscribe(change =>
        {
            // Most Node updates (heartbeat-driven status, images) change nothing the routes read.
            if (change is { Old: { } old, New: { } node } && SameRouting(old, node))
                return;
            facts.NodesChanged();
            configRunner.Queue.Add(options.ConfigName);
            LogRoutesIfChanged();
        });
    }

    /// <summary>Targets are recomputed at the next round, and a quiet liveness loop (every node held) runs that round.</summary>
    private void LivenessTargetsMayHaveChanged()
    {
        Interlocked.Exchange(ref livenessTargetsStale, 1);
        Liveness.Poke();
    }

    public OperatorHost Host { get; }
    public ILeadership Leadership { get; }
    public ZoneHolder Zones { get; }
    public LiveConfig Config { get; }
    public Informer<V1Node> Nodes { get; }

    /// <summary>Permissions the API server refused (401/403), until granted again.</summary>
    public AccessProblems Access { get; }

    /// <summary>Node liveness: which nodes this replica can reach, and the unreachable ones handed to the zone.</summary>
    public NodeLivenessLoop Liveness { get; }

    /// <summary>The DNS read model's feed: its <see cref="ZoneFeed.Published"/> event and served counts.</summary>
    public ZoneFeed Feed => feed;

    /// <summary>Runs until cancelled; DNS stops with it.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await Task.WhenAll(Host.RunAsync(ct), feed.RunAsync(ct), ApplyAfterSyncAsync(ct), Access.RunAsync(ct), Liveness.RunAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            await Config.DisposeAsync();
        }
    }

    /// <summary>
    /// A replica that does not lead also leaves out the nodes the leader published as unreachable, so replicas
    /// agree; the leader goes by its own probes (its published status is its own, possibly older, view).
    /// </summary>
    private void FollowPublishedReachability(MiniLbConfig? config)
    {
        var unreachable = (config?.Status?.Routes ?? [])
            .Where(r => r.Reachability == Reachabilities.Unreachable)
            .Select(r => r.Node)
            .ToHashSet(StringComparer.Ordinal);
        Liveness.SetPublished(unreachable, follow: !Leadership.IsLeader);
    }

    /// <summary>The routes as `serve` prints them, written to the log whenever they change.</summary>
    public static string DescribeRoutes(RoutePlan plan) => RouteFormats.Banner(plan);

    /// <summary>The same podCIDRs, addresses and Ready condition: what the route plan and the preflight read of a Node.</summary>
    internal static bool SameRouting(V1Node a, V1Node b) =>
        a.Spec?.PodCIDR == b.Spec?.PodCIDR
        && (a.Spec?.PodCIDRs ?? []).SequenceEqual(b.Spec?.PodCIDRs ?? [])
        && (a.Status?.Addresses ?? []).Select(x => (x.Type, x.Address)).SequenceEqual((b.Status?.Addresses ?? []).Select(x => (x.Type, x.Address)))
        && (a.Status?.Conditions ?? []).Select(c => (c.Type, c.Status)).SequenceEqual((b.Status?.Conditions ?? []).Select(c => (c.Type, c.Status)));

    private void LogRoutesIfChanged()
    {
        if (!Nodes.HasSynced)
            return;
        var text = DescribeRoutes(facts.Routes);
        if (Interlocked.Exchange(ref loggedRoutes, text) != text)
            log.LogInformation("Routes changed. {Routes}", text.TrimEnd());
    }

    /// <summary>Once the MiniLbConfigs are listed: the selected one, or the defaults; then retries one that could not be applied.</summary>
    private async Task ApplyAfterSyncAsync(CancellationToken ct)
    {
        try
        {
            await configs.WaitForSyncAsync(ct);
            Config.Apply(configs.Get(options.ConfigName));
            await Nodes.WaitForSyncAsync(ct);
            LogRoutesIfChanged();
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(options.RetryInterval, options.Time, ct);
                if (Config.Problem is { Reason: "ListenFailed" } || Config.Host is null)
                    Config.Apply(configs.Get(options.ConfigName));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync() => await Config.DisposeAsync();
}
