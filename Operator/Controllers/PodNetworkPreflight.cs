using System.Net;
using k8s.Models;
using MiniLb.Operator.Kube;
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
            for (var i = 0; i < endpoint.AddressCount; i++)
            {
                // hostNetwork pods carry their node's address; that is no sign of foreign IPAM.
                if (endpoint.Address(i) is { } address && !node.Cidrs.Any(c => c.Contains(address)) && !node.Addresses.Contains(endpoint.AddressText(i)))
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
}

/// <summary>
/// <see cref="PodNetworkPreflight.Check"/> kept up to date by events, for the MiniLbConfig reconcile that runs after
/// zone publishes: a slice event checks that slice alone, a Node event that changes podCIDRs or addresses has every
/// slice checked again at the next read, and a read between changes returns the findings already made. A reconcile
/// then costs nothing per slice of the cluster (at 10,000 slices, a lookup per slice on every reconcile was a third
/// of the CPU an EndpointSlice churn cost).
/// </summary>
public sealed class PodNetworkWatch(Func<IEnumerable<SliceView>> slices, Func<IEnumerable<V1Node>> nodes)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, StrayPodAddress[]> bySlice = new(StringComparer.Ordinal);

    // null until the first read and after a Node's networks changed: the next read checks every slice.
    private NodeNetworks? table;
    private IReadOnlyList<StrayPodAddress>? findings;

    /// <summary>A Node was added or deleted, or its podCIDRs or addresses changed.</summary>
    public void NodesChanged()
    {
        lock (gate)
        {
            table = null;
            findings = null;
        }
    }

    public void Observe(InformerEvent<SliceView> change)
    {
        lock (gate)
        {
            if (table is null)
                return;
            var key = (change.New ?? change.Old)!.Key;
            var found = change.New is { } slice ? PodNetworkPreflight.OfSlice(slice, table) : [];
            if (found.Length > 0)
                bySlice[key] = found;
            else if (!bySlice.Remove(key))
                return;
            findings = null;
        }
    }

    /// <summary>Every stray address, ordered by slice.</summary>
    public IReadOnlyList<StrayPodAddress> Findings
    {
        get
        {
            lock (gate)
            {
                if (table is null)
                {
                    table = NodeNetworks.Of(nodes());
                    bySlice.Clear();
                    foreach (var slice in slices())
                        if (PodNetworkPreflight.OfSlice(slice, table) is { Length: > 0 } found)
                            bySlice[slice.Key] = found;
                }
                return findings ??= [.. bySlice.OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => p.Value)];
            }
        }
    }
}
