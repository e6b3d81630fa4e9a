using System.Collections.Concurrent;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Controllers;

/// <summary>
/// Reports into the MiniLbConfig status: the routes (as data, as `ip route` lines and as a DHCP option 121 line),
/// the conditions Ready, DnsServing and RoutesPublished, the served counts and the observed generation. The
/// MiniLbConfig named by `--config` is the one in use; any other is told so in its Ready condition.
/// </summary>
public sealed class MiniLbConfigController(
    LiveConfig config, ZoneFeed zone, Informer<V1Node> nodes, Informer<V1EndpointSlice> slices,
    StatusWriter status, EventPublisher events, TimeProvider? time = null) : IEntityController<MiniLbConfig>
{
    private readonly TimeProvider time = time ?? TimeProvider.System;

    // The last Warning per (config, reason), so an unchanged problem is not re-published on every reconcile.
    private readonly ConcurrentDictionary<string, string> warned = new(StringComparer.Ordinal);

    public async Task<ReconciliationResult> ReconcileAsync(MiniLbConfig entity, CancellationToken ct)
    {
        var desired = entity.Metadata.Name == config.ConfigName ? await InUseAsync(entity, ct) : NotInUse(entity);
        await status.PatchMiniLbConfigAsync(entity, desired, ct);
        return ReconciliationResult.Success();
    }

    public Task<ReconciliationResult> DeletedAsync(MiniLbConfig entity, CancellationToken ct)
    {
        foreach (var key in warned.Keys.Where(k => k.StartsWith(entity.Metadata.Name + "/", StringComparison.Ordinal)))
            warned.TryRemove(key, out _);
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
        var host = config.Host;
        var plan = RoutePlan.FromNodes(nodes.Items);
        var stray = PodNetworkPreflight.Check(slices.Items, nodes.Items);
        var counts = zone.Counts();
        var upToDate = applied?.Generation == entity.Metadata.Generation;

        var conditions = entity.Status?.Conditions;
        conditions = Conditions.Set(conditions, problem is not null && problem.Generation == entity.Metadata.Generation
            ? Make(entity, ConditionTypes.Ready, false, problem.Reason,
                $"{problem.Message}; the last good configuration keeps running{Describe(applied)}")
            : upToDate
                ? Make(entity, ConditionTypes.Ready, true, "Applied", $"in effect{Describe(applied)}")
                : Make(entity, ConditionTypes.Ready, false, "Pending", "this generation is not applied yet"));
        conditions = Conditions.Set(conditions, host is not null
            ? Make(entity, ConditionTypes.DnsServing, true, "Listening", $"DNS answers on {string.Join(", ", host.EndPoints)} (UDP and TCP)")
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

        if (problem is not null && problem.Generation == entity.Metadata.Generation)
            await WarnOnceAsync(entity, "ConfigNotApplied", $"spec not applied, the last good configuration keeps running: {problem.Message}", ct);
        if (stray.Count > 0)
            await WarnOnceAsync(entity, "PodAddressesOutsidePodCIDRs", PodNetworkPreflight.Describe(stray), ct);
        if (dhcp.Problem is { } leftOut)
            await WarnOnceAsync(entity, "DhcpOption121TooLong", leftOut, ct);

        return new MiniLbConfigStatus
        {
            ObservedGeneration = applied?.Generation ?? entity.Status?.ObservedGeneration,
            Routes = plan.Routes.Select(r => new NodeRoute { Node = r.Node, PodCidr = r.Destination.ToString(), Via = r.Gateway.ToString() }).ToList(),
            Router = RouteFormats.Render(plan, "ip").Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList(),
            DhcpOption121 = dhcp.DnsmasqLine,
            Conditions = conditions,
            ServedServices = counts.Services,
            ServedEndpoints = counts.Endpoints,
        };
    }

    private static string Describe(AppliedConfig? applied) => applied is null
        ? ""
        : $" (domain {applied.Zone.Domain}, ttl {applied.Zone.Ttl}, listen {applied.Listen}, loadBalancerClass {applied.Zone.LoadBalancerClass})";

    private async Task WarnOnceAsync(MiniLbConfig entity, string reason, string message, CancellationToken ct)
    {
        var key = $"{entity.Metadata.Name}/{reason}";
        if (warned.TryGetValue(key, out var previous) && previous == message)
            return;
        await events.PublishAsync(entity, EventType.Warning, reason, message, ct);
        warned[key] = message;
    }

    private Condition Make(MiniLbConfig entity, string type, bool ok, string reason, string message) => new()
    {
        Type = type,
        Status = ok ? Condition.True : Condition.False,
        ObservedGeneration = entity.Metadata.Generation,
        LastTransitionTime = time.GetUtcNow(),
        Reason = reason,
        Message = message,
    };
}
