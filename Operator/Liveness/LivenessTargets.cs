using System.Net;
using System.Net.Sockets;
using k8s.Models;
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
}
