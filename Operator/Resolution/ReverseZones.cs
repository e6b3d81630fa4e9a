using System.Collections.Immutable;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// The reverse zones of a <see cref="Zone"/>: one per podCIDR (rounded to a label boundary, see
/// <see cref="ReverseNames.ApexOf"/>), each with its own SOA and NS, holding a PTR for every address the forward
/// zone answers that lies inside it. Immutable, built by <see cref="ReverseIndex.Snapshot"/>.
/// </summary>
public sealed class ReverseZones
{
    internal ReverseZones(
        ImmutableDictionary<DomainName, int> apexes,
        ImmutableDictionary<DomainName, ImmutableArray<DomainName>> pointers,
        ImmutableDictionary<DomainName, int> parents)
    {
        Apexes = apexes;
        Pointers = pointers;
        Parents = parents;
    }

    public static ReverseZones Empty { get; } = new(
        ImmutableDictionary<DomainName, int>.Empty, ImmutableDictionary<DomainName, ImmutableArray<DomainName>>.Empty, ImmutableDictionary<DomainName, int>.Empty);

    /// <summary>Reverse zone apexes, with how many podCIDRs each covers.</summary>
    public ImmutableDictionary<DomainName, int> Apexes { get; }

    /// <summary>PTR owner → the served names of that address, sorted. Addresses outside every apex are kept but never answered.</summary>
    public ImmutableDictionary<DomainName, ImmutableArray<DomainName>> Pointers { get; }

    /// <summary>Names between a PTR owner and <c>in-addr.arpa</c>/<c>ip6.arpa</c> (empty non-terminals, RFC 8020), with how many names lie directly below.</summary>
    public ImmutableDictionary<DomainName, int> Parents { get; }

    /// <summary>
    /// The lookup in the closest reverse zone that holds <paramref name="name"/>, or null when none does. The same
    /// rules as the forward zone: the apex answers SOA/NS, a missing name is NXDOMAIN, an empty non-terminal NODATA.
    /// </summary>
    public ZoneLookup? Find(DomainName name)
    {
        if (Apexes.IsEmpty || !(name.IsSubDomainOf(ReverseNames.InAddrArpa) || name.IsSubDomainOf(ReverseNames.Ip6Arpa)))
            return null;
        for (var removed = 0; removed < name.LabelCount - 2; removed++)
        {
            if (!Apexes.TryGetKey(removed == 0 ? name : name.GetParentName(removed), out var apex))
                continue;
            if (removed == 0)
                return new(NameStatus.Found, ZoneNode.Empty, apex, IsApex: true);
            if (Pointers.TryGetValue(name, out var targets))
                return new(NameStatus.Found, ZoneNode.Empty, apex, IsApex: false) { Pointers = targets };
            if (Parents.ContainsKey(name))
                return new(NameStatus.Found, ZoneNode.Empty, apex, IsApex: false);
            return new(NameStatus.NotFound, null, apex, IsApex: false);
        }
        return null;
    }
}
