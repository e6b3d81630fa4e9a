using System.Net;
using System.Net.Sockets;
using k8s.Models;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Liveness;

/// <summary>Which nodes node liveness probes: those holding endpoints of served Services, at their InternalIP.</summary>
public static class LivenessTargets
{
    /// <summary>
    /// Nodes named by an endpoint (ready or not) of a served Service, with the node's first IPv4 InternalIP (else
    /// its first IPv6 one). Nodes without an InternalIP cannot be probed and are left out, so they stay answered.
    /// </summary>
    public static IReadOnlyDictionary<string, IPAddress> Of(
        IEnumerable<ServiceView> services, IEnumerable<SliceView> slices, IEnumerable<V1Node> nodes, ZoneSettings settings)
    {
        var served = services
            .Where(s => ServedService.IsServed(s, settings))
            .Select(s => (s.Namespace ?? "default", s.Name))
            .ToHashSet();
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var slice in slices)
        {
            if (slice.ServiceName is not { } service || !served.Contains((slice.Namespace ?? "default", service)))
                continue;
            foreach (var endpoint in slice.Endpoints)
            {
                if (!string.IsNullOrEmpty(endpoint.NodeName))
                    named.Add(endpoint.NodeName);
            }
        }
        var targets = new Dictionary<string, IPAddress>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            if (!named.Contains(node.Metadata.Name))
                continue;
            var addresses = RoutePlan.InternalIps(node);
            if ((addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()) is { } address)
                targets[node.Metadata.Name] = address;
        }
        return targets;
    }

    // Which informer events can change the targets. Computing them reads the whole cluster, so the events that cannot
    // (a readiness flip, a Node's heartbeat, a Service edit that leaves it served or not) must not ask for it: at
    // 10,000 Services the recompute was 30-40 % of the CPU of an EndpointSlice churn, and each ask also woke a quiet
    // liveness loop.

    /// <summary>A Service added or deleted, or one whose being served changed (under the current settings).</summary>
    public static bool MayChange(InformerEvent<ServiceView> change, ZoneSettings settings) =>
        change is not { Old: { } old, New: { } now } || ServedService.IsServed(old, settings) != ServedService.IsServed(now, settings);

    /// <summary>A slice added or deleted, moved to another Service, or whose endpoints' nodes changed (not their readiness).</summary>
    public static bool MayChange(InformerEvent<SliceView> change) =>
        change is not { Old: { } old, New: { } now } || old.ServiceName != now.ServiceName || !NodesOf(old).SetEquals(NodesOf(now));

    /// <summary>A Node added or deleted, or whose InternalIPs changed (not its conditions, images or heartbeat).</summary>
    public static bool MayChange(InformerEvent<V1Node> change) =>
        change is not { Old: { } old, New: { } now } || !RoutePlan.InternalIps(old).SequenceEqual(RoutePlan.InternalIps(now));

    private static HashSet<string> NodesOf(SliceView slice) =>
        slice.Endpoints.Select(e => e.NodeName).OfType<string>().Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);
}
