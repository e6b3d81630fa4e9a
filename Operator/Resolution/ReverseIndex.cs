using System.Collections.Immutable;
using System.Net;
using ARSoft.Tools.Net;
using k8s.Models;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// The mutable side of <see cref="ReverseZones"/>, kept by <see cref="ClusterModel"/> with a single writer: which
/// names each served address has, and the reverse apexes of the nodes' podCIDRs. A Service's change touches only
/// the addresses it added or removed, and a Node's only when its podCIDRs change, so a change costs what it changes.
/// </summary>
internal sealed class ReverseIndex
{
    private readonly Dictionary<string, DomainName[]> apexesOfNode = new(StringComparer.Ordinal);
    private readonly ImmutableDictionary<DomainName, int>.Builder apexes = ImmutableDictionary.CreateBuilder<DomainName, int>();
    private readonly ImmutableDictionary<DomainName, ImmutableArray<DomainName>>.Builder pointers = ImmutableDictionary.CreateBuilder<DomainName, ImmutableArray<DomainName>>();
    private readonly ImmutableDictionary<DomainName, int>.Builder parents = ImmutableDictionary.CreateBuilder<DomainName, int>();
    private ReverseZones current = ReverseZones.Empty;

    /// <summary>Something changed since the last <see cref="Snapshot"/>.</summary>
    public bool Changed { get; private set; }

    /// <summary><c>spec.podCIDRs</c>, or the older single <c>spec.podCIDR</c>, as the route plan reads them.</summary>
    public static IEnumerable<string> PodCidrs(V1Node node) =>
        node.Spec?.PodCIDRs is { Count: > 0 } list ? list : node.Spec?.PodCIDR is { Length: > 0 } single ? [single] : [];

    /// <summary>A Node's podCIDRs; nothing changes when their zones are the ones it had (most Node updates are heartbeats).</summary>
    public void SetNode(string node, IEnumerable<string> podCidrs)
    {
        var next = podCidrs.Select(ReverseNames.ApexOf).OfType<DomainName>().Distinct().ToArray();
        var before = apexesOfNode.GetValueOrDefault(node) ?? [];
        if (before.SequenceEqual(next))
            return;
        RemoveNode(node);
        apexesOfNode[node] = next;
        foreach (var apex in next)
            Count(apexes, apex, +1);
    }

    public void RemoveNode(string node)
    {
        if (!apexesOfNode.Remove(node, out var before))
            return;
        foreach (var apex in before)
            Count(apexes, apex, -1);
    }

    /// <summary>
    /// A served name's addresses went from <paramref name="before"/> to <paramref name="after"/> (either null when the
    /// name was not or is no longer served); only the addresses that differ are touched.
    /// </summary>
    public void Replace(DomainName? beforeName, ZoneNode? before, DomainName? afterName, ZoneNode? after)
    {
        if (beforeName is not null && afterName is not null && beforeName.Equals(afterName) && before is not null && after is not null && before.SameAs(after))
            return;
        var kept = beforeName is not null && beforeName.Equals(afterName) && after is not null ? Addresses(after).ToHashSet() : [];
        var had = beforeName is not null && beforeName.Equals(afterName) && before is not null ? Addresses(before).ToHashSet() : [];
        if (beforeName is not null && before is not null)
        {
            foreach (var address in Addresses(before).Where(a => !kept.Contains(a)))
                Remove(ReverseNames.PointerOf(address), beforeName);
        }
        if (afterName is not null && after is not null)
        {
            // Most addresses have this one name: they share one array rather than holding one each.
            ImmutableArray<DomainName> alone = [afterName];
            foreach (var address in Addresses(after).Where(a => !had.Contains(a)))
                Add(ReverseNames.PointerOf(address), alone);
        }
    }

    /// <summary>The reverse zones as they are now; the same object while nothing changed.</summary>
    public ReverseZones Snapshot()
    {
        if (Changed)
        {
            current = new ReverseZones(apexes.ToImmutable(), pointers.ToImmutable(), parents.ToImmutable());
            Changed = false;
        }
        return current;
    }

    private static IEnumerable<IPAddress> Addresses(ZoneNode node) => node.V4.Concat(node.V6);

    /// <param name="alone">The name to add, as a one-element array kept as it is when the address had no name yet.</param>
    private void Add(DomainName owner, ImmutableArray<DomainName> alone)
    {
        var target = alone[0];
        if (!pointers.TryGetValue(owner, out var targets))
        {
            pointers[owner] = alone;
            AddParents(owner);
            Changed = true;
            return;
        }
        var index = targets.BinarySearch(target, NameOrder.Instance);
        if (index >= 0)
            return;
        pointers[owner] = targets.Insert(~index, target);
        Changed = true;
    }

    private void Remove(DomainName owner, DomainName target)
    {
        if (!pointers.TryGetValue(owner, out var targets) || targets.BinarySearch(target, NameOrder.Instance) is not (>= 0 and var index))
            return;
        Changed = true;
        if (targets.Length > 1)
        {
            pointers[owner] = targets.RemoveAt(index);
            return;
        }
        pointers.Remove(owner);
        RemoveParents(owner);
    }

    /// <summary>
    /// Each parent counts its child names (owners or parents), so a new owner walks up only until a parent that
    /// already existed: one or two steps for most addresses, not 31 for every IPv6 one.
    /// </summary>
    private void AddParents(DomainName owner)
    {
        for (var parent = owner.GetParentName(); parent.LabelCount > 2; parent = parent.GetParentName())
        {
            var count = parents.GetValueOrDefault(parent);
            parents[parent] = count + 1;
            if (count > 0)
                return;
        }
    }

    /// <summary>The reverse of <see cref="AddParents"/>: a parent left without children goes, and its parent loses one.</summary>
    private void RemoveParents(DomainName owner)
    {
        for (var parent = owner.GetParentName(); parent.LabelCount > 2; parent = parent.GetParentName())
        {
            var count = parents.GetValueOrDefault(parent) - 1;
            if (count > 0)
            {
                parents[parent] = count;
                return;
            }
            parents.Remove(parent);
        }
    }

    private void Count(ImmutableDictionary<DomainName, int>.Builder counts, DomainName name, int delta)
    {
        var count = counts.GetValueOrDefault(name) + delta;
        if (count > 0)
            counts[name] = count;
        else
            counts.Remove(name);
        Changed = true;
    }

    /// <summary>A fixed order for the PTRs of one address: label by label from the left, ordinal (names are lower case).</summary>
    private sealed class NameOrder : IComparer<DomainName>
    {
        public static readonly NameOrder Instance = new();

        public int Compare(DomainName? x, DomainName? y)
        {
            if (x is null || y is null)
                return x is null ? (y is null ? 0 : -1) : 1;
            for (var i = 0; i < Math.Min(x.LabelCount, y.LabelCount); i++)
            {
                var order = string.CompareOrdinal(x.Labels[i], y.Labels[i]);
                if (order != 0)
                    return order;
            }
            return x.LabelCount.CompareTo(y.LabelCount);
        }
    }
}
