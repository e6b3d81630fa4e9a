using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// What changed in a <see cref="Zone"/> since the version <see cref="ClusterModel.Publish"/> built it from, so that
/// what was derived from an earlier version (the fast path's learned answers, its NXDOMAIN index) is carried over at
/// the cost of the change. Each change links to the one before; the model cuts that chain after a bounded number of
/// names, and a version that cannot be traced back to an earlier one may differ from it in everything.
/// </summary>
public sealed class ZoneChange
{
    private ZoneChange? previous;

    internal ZoneChange(IReadOnlyCollection<DomainName> names, bool beyondNames, ZoneChange? previous)
    {
        Names = names;
        BeyondNames = beyondNames;
        this.previous = previous;
    }

    /// <summary>The change of a zone traced back to nothing (a new model, new settings): nothing carries over.</summary>
    public static ZoneChange Unrelated() => new([], false, null);

    /// <summary>
    /// Names whose lookup may differ from the previous version: added, removed or answered otherwise — Service,
    /// endpoint and SRV names, aliases, empty non-terminals, PTR owners and the names above them.
    /// </summary>
    public IReadOnlyCollection<DomainName> Names { get; }

    /// <summary>Answers of names not in <see cref="Names"/> may differ too: a wildcard or a reverse zone's apex changed.</summary>
    public bool BeyondNames { get; }

    /// <summary>
    /// The names changed between the version of <paramref name="earlier"/> and this one, or null when this version
    /// cannot be traced back to it (then anything may differ). <paramref name="beyondNames"/> as <see cref="BeyondNames"/>
    /// for any version between.
    /// </summary>
    public IReadOnlyCollection<DomainName>? Since(ZoneChange earlier, out bool beyondNames)
    {
        beyondNames = false;
        HashSet<DomainName>? union = null;
        IReadOnlyCollection<DomainName> names = [];
        for (var change = this; !ReferenceEquals(change, earlier); change = Volatile.Read(ref change.previous))
        {
            if (change is null)
                return null;
            beyondNames |= change.BeyondNames;
            if (names.Count == 0)
            {
                names = change.Names; // one version back, the usual case: its own list, no copy
                continue;
            }
            union ??= [.. names];
            union.UnionWith(change.Names);
            names = union;
        }
        return names;
    }

    /// <summary>Whether this version was built after <paramref name="earlier"/>'s (and is still traced back to it).</summary>
    public bool Follows(ZoneChange earlier)
    {
        for (var change = Volatile.Read(ref previous); change is not null; change = Volatile.Read(ref change.previous))
        {
            if (ReferenceEquals(change, earlier))
                return true;
        }
        return false;
    }

    /// <summary>No version before this one is traced back to any more (the model keeps the chain short).</summary>
    internal void Cut() => Volatile.Write(ref previous, null);
}
