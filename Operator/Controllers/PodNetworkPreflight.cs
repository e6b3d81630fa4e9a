using System.Net;
using k8s.Models;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Controllers;

/// <summary>A ready pod address that lies outside its node's podCIDRs.</summary>
public sealed record StrayPodAddress(string Node, IPAddress Address, string Slice);

/// <summary>
/// minilb's routes send each node's podCIDR to that node, so pods must get addresses from their node's podCIDR.
/// CNIs with their own IPAM (Calico, Cilium cluster-pool) ignore it; ready endpoints outside their node's
/// podCIDRs are the sign. Pure: EndpointSlices (whose endpoints carry nodeName) and Nodes in, findings out.
/// </summary>
public static class PodNetworkPreflight
{
    public static IReadOnlyList<StrayPodAddress> Check(IEnumerable<SliceView> slices, IEnumerable<V1Node> nodes)
    {
        // Once per node, not once per endpoint: this runs over every slice of the cluster.
        var byName = nodes
            .Select(n => (Name: n.Metadata.Name, Cidrs: PodCidrs(n), Addresses: (n.Status?.Addresses ?? []).Select(a => a.Address).ToHashSet(StringComparer.Ordinal)))
            .Where(n => n.Cidrs.Count > 0)
            .ToDictionary(n => n.Name, StringComparer.Ordinal);
        var stray = new List<StrayPodAddress>();
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice.Endpoints)
            {
                if (endpoint.Ready == false || endpoint.NodeName is not { Length: > 0 } nodeName || !byName.TryGetValue(nodeName, out var node))
                    continue;
                var (_, cidrs, nodeAddresses) = node;
                foreach (var text in endpoint.Addresses)
                {
                    // hostNetwork pods carry their node's address; that is no sign of foreign IPAM.
                    if (!IPAddress.TryParse(text, out var address) || nodeAddresses.Contains(text))
                        continue;
                    if (!cidrs.Any(c => c.Contains(address)))
                        stray.Add(new(nodeName, address, slice.Key));
                }
            }
        }
        return stray;
    }

    /// <summary>In words for a condition message and an event, naming a few examples.</summary>
    public static string Describe(IReadOnlyList<StrayPodAddress> stray)
    {
        var examples = string.Join(", ", stray.Take(3).Select(s => $"{s.Address} on node {s.Node} (EndpointSlice {s.Slice})"));
        return $"{stray.Count} ready pod address(es) lie outside their node's spec.podCIDRs, e.g. {examples}: the CNI's IPAM " +
               "ignores node podCIDRs (Calico, Cilium cluster-pool), so the routes minilb publishes cannot reach these pods";
    }

    private static List<IPNetwork> PodCidrs(V1Node node) =>
        (node.Spec?.PodCIDRs is { Count: > 0 } list ? list : node.Spec?.PodCIDR is { Length: > 0 } single ? [single] : [])
        .Select(c => IPNetwork.TryParse(c, out var n) ? (IPNetwork?)n : null)
        .OfType<IPNetwork>()
        .ToList();
}
