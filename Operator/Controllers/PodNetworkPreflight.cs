using System.Net;
using System.Runtime.CompilerServices;
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
        var table = NodeNetworks.Of(nodes);
        var stray = new List<StrayPodAddress>();
        foreach (var slice in slices)
            stray.AddRange(OfSlice(slice, table));
        return stray;
    }

    internal static StrayPodAddress[] OfSlice(SliceView slice, NodeNetworks nodes)
    {
        List<StrayPodAddress>? stray = null;
        foreach (var endpoint in slice.Endpoints)
        {
            if (endpoint.Ready == false || endpoint.NodeName is not { Length: > 0 } nodeName || !nodes.ByName.TryGetValue(nodeName, out var node))
                continue;
            foreach (var text in endpoint.Addresses)
            {
                // hostNetwork pods carry their node's address; that is no sign of foreign IPAM.
                if (!IPAddress.TryParse(text, out var address) || node.Addresses.Contains(text))
                    continue;
                if (!node.Cidrs.Any(c => c.Contains(address)))
                    (stray ??= []).Add(new(nodeName, address, slice.Key));
            }
        }
        return stray?.ToArray() ?? [];
    }

    /// <summary>In words for a condition message and an event, naming a few examples.</summary>
    public static string Describe(IReadOnlyList<StrayPodAddress> stray)
    {
        var examples = string.Join(", ", stray.Take(3).Select(s => $"{s.Address} on node {s.Node} (EndpointSlice {s.Slice})"));
        return $"{stray.Count} ready pod address(es) lie outside their node's spec.podCIDRs, e.g. {examples}: the CNI's IPAM " +
               "ignores node podCIDRs (Calico, Cilium cluster-pool), so the routes minilb publishes cannot reach these pods";
    }

    internal static List<IPNetwork> PodCidrs(V1Node node) =>
        (node.Spec?.PodCIDRs is { Count: > 0 } list ? list : node.Spec?.PodCIDR is { Length: > 0 } single ? [single] : [])
        .Select(c => IPNetwork.TryParse(c, out var n) ? (IPNetwork?)n : null)
        .OfType<IPNetwork>()
        .ToList();
}

/// <summary>Each Node with podCIDRs: its CIDRs and its own addresses, by name.</summary>
internal sealed class NodeNetworks
{
    private NodeNetworks(Dictionary<string, (List<IPNetwork> Cidrs, HashSet<string> Addresses)> byName) => ByName = byName;

    public IReadOnlyDictionary<string, (List<IPNetwork> Cidrs, HashSet<string> Addresses)> ByName { get; }

    public static NodeNetworks Of(IEnumerable<V1Node> nodes) => new(nodes
        .Select(n => (Name: n.Metadata.Name, Cidrs: PodNetworkPreflight.PodCidrs(n), Addresses: (n.Status?.Addresses ?? []).Select(a => a.Address).ToHashSet(StringComparer.Ordinal)))
        .Where(n => n.Cidrs.Count > 0)
        .ToDictionary(n => n.Name, n => (n.Cidrs, n.Addresses), StringComparer.Ordinal));

    public bool SameAs(NodeNetworks other) =>
        ByName.Count == other.ByName.Count && ByName.All(pair => other.ByName.TryGetValue(pair.Key, out var theirs)
            && pair.Value.Cidrs.SequenceEqual(theirs.Cidrs) && pair.Value.Addresses.SetEquals(theirs.Addresses));
}

/// <summary>
/// <see cref="PodNetworkPreflight.Check"/> for the MiniLbConfig reconcile, which runs after every zone publish: the
/// findings of each slice are kept by reference to its immutable <see cref="SliceView"/> (a changed slice is a new
/// object) and all are dropped when a Node's podCIDRs or addresses change. A reconcile then costs a lookup per slice
/// instead of parsing every endpoint address of the cluster.
/// </summary>
public sealed class PodNetworkWatch
{
    private NodeNetworks? nodesSeen;
    private ConditionalWeakTable<SliceView, StrayPodAddress[]> bySlice = new();

    public IReadOnlyList<StrayPodAddress> Check(IEnumerable<SliceView> slices, IEnumerable<V1Node> nodes)
    {
        var networks = NodeNetworks.Of(nodes);
        if (nodesSeen is null || !nodesSeen.SameAs(networks))
        {
            nodesSeen = networks;
            bySlice = new();
        }
        var table = nodesSeen;
        var memo = bySlice;
        var stray = new List<StrayPodAddress>();
        foreach (var slice in slices)
            stray.AddRange(memo.GetValue(slice, s => PodNetworkPreflight.OfSlice(s, table)));
        return stray;
    }
}
