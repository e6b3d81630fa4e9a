namespace MiniLb.Operator.Resolution;

/// <summary>
/// Who claims which alias for which served names: a Service's <c>minilb/host</c> annotation, an Ingress's rule hosts,
/// a route's hostnames. Indexed by source (to replace a source's claims), by pattern (to answer it) and by target
/// (so a Service whose addresses change marks exactly the aliases that follow it). Patterns whose answer may have
/// changed are collected until <see cref="TakeDirty"/>.
/// </summary>
internal sealed class AliasClaims
{
    private readonly Dictionary<string, AliasClaim[]> claimsOfSource = new(StringComparer.Ordinal);
    private readonly Dictionary<AliasPattern, Dictionary<string, AliasClaim>> claimsOfPattern = new();
    private readonly Dictionary<string, HashSet<(AliasPattern Pattern, string Source)>> claimsOfTarget = new(StringComparer.Ordinal);
    private readonly HashSet<AliasPattern> dirty = [];

    /// <summary>Replaces every claim of <paramref name="source"/> (none: removes them).</summary>
    public void Set(string source, AliasClaim[] claims)
    {
        if (claimsOfSource.Remove(source, out var old))
        {
            foreach (var claim in old)
            {
                if (claimsOfPattern.TryGetValue(claim.Pattern, out var bySource) && bySource.Remove(source) && bySource.Count == 0)
                    claimsOfPattern.Remove(claim.Pattern);
                foreach (var target in claim.Targets)
                {
                    if (claimsOfTarget.TryGetValue(target, out var set) && set.Remove((claim.Pattern, source)) && set.Count == 0)
                        claimsOfTarget.Remove(target);
                }
                dirty.Add(claim.Pattern);
            }
        }
        if (claims.Length == 0)
            return;
        claimsOfSource[source] = claims;
        foreach (var claim in claims)
        {
            if (!claimsOfPattern.TryGetValue(claim.Pattern, out var bySource))
                claimsOfPattern[claim.Pattern] = bySource = new(StringComparer.Ordinal);
            bySource[source] = claim;
            foreach (var target in claim.Targets)
            {
                if (!claimsOfTarget.TryGetValue(target, out var set))
                    claimsOfTarget[target] = set = [];
                set.Add((claim.Pattern, source));
            }
            dirty.Add(claim.Pattern);
        }
    }

    /// <summary>The answers of a served name changed: every alias pointing at it must be rebuilt.</summary>
    public void TargetChanged(string hostname)
    {
        if (claimsOfTarget.TryGetValue(hostname, out var claims))
            dirty.UnionWith(claims.Select(c => c.Pattern));
    }

    /// <summary>The claims on <paramref name="pattern"/>, each with the object (source) that makes it.</summary>
    public IEnumerable<(string Source, string[] Targets)> ClaimsOf(AliasPattern pattern) =>
        claimsOfPattern.TryGetValue(pattern, out var claims) ? claims.Select(c => (c.Key, c.Value.Targets)) : [];

    public IReadOnlyList<AliasPattern> TakeDirty()
    {
        var patterns = dirty.ToList();
        dirty.Clear();
        return patterns;
    }
}
