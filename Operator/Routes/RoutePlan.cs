using System.Net;
using System.Net.Sockets;
using k8s.Models;

namespace MiniLb.Operator.Routes;

/// <summary>One static route for the LAN router: a node's podCIDR via that node's InternalIP.</summary>
public sealed record Route(string Node, IPNetwork Destination, IPAddress Gateway)
{
    public bool IsIPv6 => Destination.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6;
}

/// <summary>A node (or one of its podCIDRs) that gets no route, and why.</summary>
public sealed record RouteProblem(string Node, string Reason);

/// <summary>The routes the LAN router needs so that pod IPs from DNS answers are reachable.</summary>
public sealed record RoutePlan(IReadOnlyList<Route> Routes, IReadOnlyList<RouteProblem> Problems)
{
    /// <summary>Each <c>spec.podCIDRs</c> entry via the node's InternalIP of the same family; nodes that cannot be routed are reported.</summary>
    public static RoutePlan FromNodes(IEnumerable<V1Node> nodes)
    {
        var routes = new List<Route>();
        var problems = new List<RouteProblem>();
        foreach (var node in nodes.OrderBy(n => n.Metadata.Name, StringComparer.Ordinal))
        {
            var name = node.Metadata.Name;
            var cidrs = node.Spec?.PodCIDRs is { Count: > 0 } list ? list : node.Spec?.PodCIDR is { Length: > 0 } single ? [single] : [];
            if (cidrs.Count == 0)
            {
                problems.Add(new(name, "no spec.podCIDRs; the CNI must allocate pod addresses per node from the node's podCIDR (Calico and Cilium cluster-pool IPAM do not)"));
                continue;
            }
            var internalIps = InternalIps(node);
            foreach (var cidr in cidrs)
            {
                if (!IPNetwork.TryParse(cidr, out var network))
                {
                    problems.Add(new(name, $"spec.podCIDRs entry '{cidr}' is not a CIDR"));
                    continue;
                }
                var family = network.BaseAddress.AddressFamily;
                var gateway = internalIps.FirstOrDefault(ip => ip.AddressFamily == family);
                if (gateway is null)
                {
                    var familyName = family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";
                    problems.Add(new(name, $"no {familyName} InternalIP in status.addresses for podCIDR {network}"));
                    continue;
                }
                routes.Add(new(name, network, gateway));
            }
        }
        return new(routes, problems);
    }

    /// <summary>The node's InternalIP addresses that parse, in status order.</summary>
    public static IPAddress[] InternalIps(V1Node node) => (node.Status?.Addresses ?? [])
        .Where(a => a.Type == "InternalIP")
        .Select(a => IPAddress.TryParse(a.Address, out var ip) ? ip : null)
        .OfType<IPAddress>()
        .ToArray();
}
