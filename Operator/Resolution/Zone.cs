using System.Collections.Immutable;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>How a query name relates to what minilb serves.</summary>
public enum NameStatus
{
    /// <summary>Neither inside the zone nor an alias: never answered (REFUSED), minilb is no resolver.</summary>
    Outside,

    /// <summary>Inside the zone but nothing there or below (NXDOMAIN).</summary>
    NotFound,

    /// <summary>A name that exists (possibly without data) inside the zone, or the apex itself.</summary>
    Found,
}

/// <summary>The result of <see cref="Zone.Find"/>: the name's data and the apex its negative answers cite.</summary>
/// <param name="SoaOwner">Owner of the SOA for negative answers: the zone apex, or the alias itself.</param>
/// <param name="IsApex">The name is an apex (the zone's or an alias's): SOA and NS live here.</param>
public readonly record struct ZoneLookup(NameStatus Status, ZoneNode? Node, DomainName SoaOwner, bool IsApex)
{
    /// <summary>The PTR targets of a name in a reverse zone (see <see cref="ReverseZones"/>); default elsewhere.</summary>
    public ImmutableArray<DomainName> Pointers { get; init; }
}

/// <summary>
/// An immutable snapshot of everything DNS answers. Built by <see cref="ClusterModel.Publish"/>, read by the
/// responder without locks. Names compare case-insensitively (RFC 4343; <see cref="DomainName"/> equality).
/// </summary>
public sealed class Zone
{
    internal Zone(
        ZoneSettings settings,
        uint serial,
        ImmutableDictionary<DomainName, ZoneNode> names,
        ImmutableDictionary<DomainName, ZoneNode> aliases,
        ImmutableDictionary<DomainName, ZoneNode> oneLabelWildcards,
        ImmutableDictionary<DomainName, ZoneNode> multiLabelWildcards,
        ImmutableDictionary<DomainName, int> aliasParents,
        ReverseZones? reverse = null,
        ZoneChange? change = null)
    {
        Settings = settings;
        Apex = settings.Apex;
        NameServer = settings.NameServer;
        Hostmaster = settings.Hostmaster;
        Serial = serial;
        Names = names;
        Aliases = aliases;
        OneLabelWildcards = oneLabelWildcards;
        MultiLabelWildcards = multiLabelWildcards;
        AliasParents = aliasParents;
        Reverse = reverse ?? ReverseZones.Empty;
        Change = change ?? ZoneChange.Unrelated();
    }

    public static Zone Empty(ZoneSettings settings, uint serial = 1) =>
        new(settings, serial, ImmutableDictionary<DomainName, ZoneNode>.Empty, ImmutableDictionary<DomainName, ZoneNode>.Empty,
            ImmutableDictionary<DomainName, ZoneNode>.Empty, ImmutableDictionary<DomainName, ZoneNode>.Empty, ImmutableDictionary<DomainName, int>.Empty);

    public ZoneSettings Settings { get; }
    public DomainName Apex { get; }
    public DomainName NameServer { get; }
    public DomainName Hostmaster { get; }

    /// <summary>SOA serial; larger whenever any answer changed (RFC 1982 arithmetic is not needed at this rate).</summary>
    public uint Serial { get; }

    /// <summary>Names inside the zone, empty non-terminals included.</summary>
    public ImmutableDictionary<DomainName, ZoneNode> Names { get; }

    /// <summary>Exact alias names (Ingress hosts, route hostnames, <c>minilb/host</c>).</summary>
    public ImmutableDictionary<DomainName, ZoneNode> Aliases { get; }

    /// <summary>Ingress wildcards keyed by the part after <c>*.</c>: match exactly one more label.</summary>
    public ImmutableDictionary<DomainName, ZoneNode> OneLabelWildcards { get; }

    /// <summary>Gateway API wildcards keyed by the part after <c>*.</c>: match one or more labels.</summary>
    public ImmutableDictionary<DomainName, ZoneNode> MultiLabelWildcards { get; }

    /// <summary>
    /// Names inside the zone that exist only because an alias or wildcard lies below them (empty non-terminals,
    /// RFC 8020), with how many do.
    /// </summary>
    public ImmutableDictionary<DomainName, int> AliasParents { get; }

    /// <summary>The reverse zones of the nodes' podCIDRs, with a PTR for every served address inside them.</summary>
    public ReverseZones Reverse { get; }

    /// <summary>What changed since the version this one was built from (the fast path carries the rest over).</summary>
    public ZoneChange Change { get; }

    public ZoneLookup Find(DomainName name)
    {
        if (name.IsEqualOrSubDomainOf(Apex))
        {
            if (name.Equals(Apex))
                return new(NameStatus.Found, ZoneNode.Empty, Apex, IsApex: true);
            if (Names.TryGetValue(name, out var node) || Aliases.TryGetValue(name, out node))
                return new(NameStatus.Found, node, Apex, IsApex: false);
            // An existing name, even an empty non-terminal, is never matched by a wildcard (RFC 4592 §2.2).
            if (AliasParents.ContainsKey(name))
                return new(NameStatus.Found, ZoneNode.Empty, Apex, IsApex: false);
            if (MatchWildcard(name) is { } wildcard)
                return new(NameStatus.Found, wildcard, Apex, IsApex: false);
            return new(NameStatus.NotFound, null, Apex, IsApex: false);
        }

        if (Reverse.Find(name) is { } reverse)
            return reverse;

        // An alias outside the zone is the apex of its own one-name zone; names below it are not ours.
        if (Aliases.TryGetValue(name, out var alias) || (alias = MatchWildcard(name)) is not null)
            return new(NameStatus.Found, alias, name, IsApex: true);
        return new(NameStatus.Outside, null, name, IsApex: false);
    }

    /// <summary>An exact alias beats a wildcard (RFC 4592), and the closest wildcard wins.</summary>
    private ZoneNode? MatchWildcard(DomainName name)
    {
        if (OneLabelWildcards.IsEmpty && MultiLabelWildcards.IsEmpty)
            return null;
        for (var removed = 1; removed < name.LabelCount; removed++)
        {
            var suffix = name.GetParentName(removed);
            if (removed == 1 && OneLabelWildcards.TryGetValue(suffix, out var one))
                return one;
            if (MultiLabelWildcards.TryGetValue(suffix, out var many))
                return many;
        }
        return null;
    }
}
