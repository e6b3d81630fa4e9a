using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Controllers;

/// <summary>
/// Reports into the MiniLbConfig status: the routes (as data, as `ip route` lines and as a DHCP option 121 line),
/// the conditions Ready, DnsServing and RoutesPublished, the served counts and the observed generation. The
/// MiniLbConfig named by `--config` is the one in use; any other is told so in its Ready condition.
/// </summary>
public sealed class MiniLbConfigController(
    IConfigInForce config, IClusterFacts cluster, IStatusPatches status, IEventPublisher events, TimeProvider? time = null) : IEntityController<MiniLbConfig>
{
    private readonly TimeProvider time = time ?? TimeProvider.System;

    public async Task<ReconciliationResult> ReconcileAsync(MiniLbConfig entity, CancellationToken ct)
    {
        var desired = entity.Metadata.Name == config.ConfigName ? await InUseAsync(entity, ct) : NotInUse(entity);
        await status.SetStatusAsync(entity, desired, ct);
        return ReconciliationResult.Success();
    }

    public Task<ReconciliationResult> DeletedAsync(MiniLbConfig entity, CancellationToken ct)
    {
        events.Forget(entity);
        return Task.FromResult(ReconciliationResult.Success());
    }

    private MiniLbConfigStatus NotInUse(MiniLbConfig entity) => new()
    {
        ObservedGeneration = entity.Metadata.Generation,
        Conditions = Conditions.Set(entity.Status?.Conditions, Make(entity, ConditionTypes.Ready, false, "NotInUse",
            $"minilb uses the MiniLbConfig named '{config.ConfigName}' (its --config flag); this one has no effect")),
    };

    private async Task<MiniLbConfigStatus> InUseAsync(MiniLbConfig entity, CancellationToken ct)
    {
        var applied = config.Current;
        var problem = config.Problem;
        var listening = config.DnsEndPoints;
        var plan = cluster.Routes;
        var stray = cluster.StrayPodAddresses;
        var counts = cluster.Served;
        var upToDate = applied?.Generation == entity.Metadata.Generation;

        var conditions = entity.Status?.Conditions;
        conditions = Conditions.Set(conditions, problem is not null && problem.Generation == entity.Metadata.Generation
            ? Make(entity, ConditionTypes.Ready, false, problem.Reason,
                $"{problem.Message}; the last good configuration keeps running{Describe(applied)}")
            : upToDate && cluster.Forbidden is { } forbidden
                ? Make(entity, ConditionTypes.Ready, false, "Forbidden", $"{forbidden}; DNS keeps answering{Describe(applied)}")
            : upToDate
                ? Make(entity, ConditionTypes.Ready, true, "Applied", $"in effect{Describe(applied)}")
                : Make(entity, ConditionTypes.Ready, false, "Pending", "this generation is not applied yet"));
        conditions = Conditions.Set(conditions, listening.Count > 0
            ? Make(entity, ConditionTypes.DnsServing, true, "Listening", $"DNS answers on {string.Join(", ", listening)} (UDP and TCP)")
            : Make(entity, ConditionTypes.DnsServing, false, "NotListening", problem?.Message ?? "the DNS server has not started"));
        conditions = Conditions.Set(conditions, stray.Count > 0
            ? Make(entity, ConditionTypes.RoutesPublished, false, "PodAddressesOutsidePodCIDRs", PodNetworkPreflight.Describe(stray))
            : plan.Problems.Count > 0
                ? Make(entity, ConditionTypes.RoutesPublished, false, "NodesWithoutRoute",
                    string.Join("; ", plan.Problems.Select(p => $"node {p.Node}: {p.Reason}")))
                : Make(entity, ConditionTypes.RoutesPublished, true, "AllNodesRouted",
                    $"{plan.Routes.Count} route(s) for {plan.Routes.Select(r => r.Node).Distinct().Count()} node(s)"));
        var dhcp = DhcpOption121.From(plan);
        conditions = Conditions.Set(conditions, dhcp.Problem is { } tooLong
            ? Make(entity, ConditionTypes.DhcpOption121Complete, false, "OptionTooLong", tooLong)
            : Make(entity, ConditionTypes.DhcpOption121Complete, true, "AllRoutesFit",
                $"{dhcp.Carried.Count} IPv4 route(s) and the default route take {dhcp.Octets} of {DhcpOption121.MaxOctets} octets"));

        var routes = Routes(plan);
        conditions = Conditions.Set(conditions, Reachability(entity));
        conditions = Conditions.Set(conditions, Source(entity, applied));

        await events.ReportProblemAsync(entity, "ConfigNotApplied", problem is not null && problem.Generation == entity.Metadata.Generation
            ? $"spec not applied, the last good configuration keeps running: {problem.Message}"
            : null, ct);
        await events.ReportProblemAsync(entity, "PodAddressesOutsidePodCIDRs", stray.Count > 0 ? PodNetworkPreflight.Describe(stray) : null, ct);
        await events.ReportProblemAsync(entity, "DhcpOption121TooLong", dhcp.Problem, ct);

        return new MiniLbConfigStatus
        {
            ObservedGeneration = applied?.Generation ?? entity.Status?.ObservedGeneration,
            Routes = routes,
            ReachableNodes = ReachableNodes(routes),
            Router = [.. RouteFormats.Lines(plan, "ip")],
            DhcpOption121 = dhcp.DnsmasqLine,
            Conditions = conditions,
            ServedServices = counts.Services,
            ServedEndpoints = counts.Endpoints,
        };
    }

    /// <summary>The routes with what this replica's node liveness found (the leader's findings are the published ones).</summary>
    private List<NodeRoute> Routes(RoutePlan plan)
    {
        var states = cluster.NodeStates;
        return plan.Routes.Select(r => new NodeRoute
        {
            Node = r.Node,
            PodCidr = r.Destination.ToString(),
            Via = r.Gateway.ToString(),
            Reachability = states.TryGetValue(r.Node, out var state) ? state.Reachability : Reachabilities.NotProbed,
            Since = state?.Since,
        }).ToList();
    }

    /// <summary>"2/3": routed nodes not found unreachable, of all routed nodes (kubectl shows only a column's first match, so one field sums it up).</summary>
    public static string ReachableNodes(IReadOnlyCollection<NodeRoute> routes)
    {
        var nodes = routes.GroupBy(r => r.Node).ToList();
        var reachable = nodes.Count(g => g.All(r => r.Reachability != Reachabilities.Unreachable));
        return $"{reachable}/{nodes.Count}";
    }

    private Condition Reachability(MiniLbConfig entity)
    {
        if (cluster.Liveness is not { } settings)
            return Make(entity, ConditionTypes.NodesReachable, null, "LivenessOff", (LivenessSettings.Default with { Enabled = false }).Describe());
        var states = cluster.NodeStates;
        var down = states.Values.Where(s => !s.Reachable).OrderBy(s => s.Node, StringComparer.Ordinal).ToList();
        return down.Count == 0
            ? Make(entity, ConditionTypes.NodesReachable, true, "AllReachable", $"{states.Count} node(s) with served endpoints answer ({settings.Describe()})")
            : Make(entity, ConditionTypes.NodesReachable, false, "NodesUnreachable",
                string.Join("; ", down.Select(s => $"node {s.Node} ({s.Address}) unreachable since {s.Since.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}"))
                + ": their endpoints are left out of DNS answers unless a Service has no other");
    }

    /// <summary>ConfigSource: this MiniLbConfig wins over the flags as a whole; until a spec of it applies, the flags (or defaults) run.</summary>
    private Condition Source(MiniLbConfig entity, AppliedConfig? applied)
    {
        if (applied is null)
            return Make(entity, ConditionTypes.ConfigSource, null, "Pending", "no configuration is in effect yet");
        var reason = ConfigSource.Reason(applied, config.Flags);
        return reason == ConfigSource.MiniLbConfig
            ? Make(entity, ConditionTypes.ConfigSource, true, reason, $"this MiniLbConfig is in force; {ConfigSource.OverDescription(applied.Spec, config.Flags)}")
            : Make(entity, ConditionTypes.ConfigSource, false, reason,
                $"{ConfigSource.DescribeFlags(config.Flags)} of `minilb run` {(config.Flags.Count == 1 ? "is" : "are")} in force: no spec of this MiniLbConfig has been applied yet (see Ready)");
    }

    private static string Describe(AppliedConfig? applied) => applied is null
        ? ""
        : $" (domain {applied.Zone.Domain}, ttl {applied.Zone.Ttl}, listen {applied.Listen}, loadBalancerClass {applied.Zone.LoadBalancerClass})";

    /// <param name="ok">null: Unknown.</param>
    private Condition Make(MiniLbConfig entity, string type, bool? ok, string reason, string message) => new()
    {
        Type = type,
        Status = ok switch { true => Condition.True, false => Condition.False, null => Condition.Unknown },
        ObservedGeneration = entity.Metadata.Generation,
        LastTransitionTime = time.GetUtcNow(),
        Reason = reason,
        Message = message,
    };
}
