namespace MiniLb.Operator.Resolution;

/// <summary>
/// The EndpointSlices by key, grouped by the Service they belong to (<c>kubernetes.io/service-name</c>), so a change
/// finds the Service it touches without looking at the others (the nodes of served Services: <see cref="EndpointNodes"/>).
/// </summary>
internal sealed class SliceIndex
{
    private readonly Dictionary<string, SliceView> slices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> serviceOfSlice = new(StringComparer.Ordinal);
    // A Service has one slice, rarely a few: a small array each (a HashSet per Service was 180 bytes at 10,000 Services).
    private readonly Dictionary<string, string[]> slicesOfService = new(StringComparer.Ordinal);

    public int Count => slices.Count;

    /// <summary>Adds or replaces a slice; returns the Services whose answers may change (the old owner and the new).</summary>
    public IReadOnlyList<string> Upsert(SliceView slice)
    {
        var key = ClusterModel.KeyOf(slice);
        var affected = new List<string>(2);
        if (Remove(key) is { } before)
            affected.Add(before);
        slices[key] = slice;
        if (slice.ServiceName is not { Length: > 0 } serviceName)
            return affected;
        var serviceKey = ClusterModel.Key(slice.Namespace, serviceName);
        serviceOfSlice[key] = serviceKey;
        slicesOfService[serviceKey] = slicesOfService.TryGetValue(serviceKey, out var keys) ? [.. keys, key] : [key];
        if (!affected.Contains(serviceKey))
            affected.Add(serviceKey);
        return affected;
    }

    /// <summary>Removes a slice; returns the Service it belonged to, if any.</summary>
    public string? Remove(string key)
    {
        if (!slices.Remove(key) || !serviceOfSlice.Remove(key, out var serviceKey))
            return null;
        if (slicesOfService.TryGetValue(serviceKey, out var keys))
        {
            // Upsert removed the slice's old entry first, so a key is never listed twice.
            if (keys.Length == 1 && keys[0] == key)
                slicesOfService.Remove(serviceKey);
            else
                slicesOfService[serviceKey] = [.. keys.Where(k => k != key)];
        }
        return serviceKey;
    }

    public IEnumerable<SliceView> Of(string serviceKey) =>
        slicesOfService.TryGetValue(serviceKey, out var keys) ? keys.Select(k => slices[k]) : [];
}

/// <summary>
/// Odd values skipped while building answers, reported once per object and again only when they change, not on
/// every event of an unchanged slice.
/// </summary>
internal sealed class SkipReport
{
    private readonly Dictionary<string, string> last = new(StringComparer.Ordinal);
    private readonly List<string> unreported = [];

    /// <summary>What is skipped of the object now (null: nothing).</summary>
    public void Note(string key, string? line)
    {
        if (line is null)
        {
            last.Remove(key);
            return;
        }
        if (last.TryGetValue(key, out var previous) && previous == line)
            return;
        last[key] = line;
        unreported.Add(line);
    }

    public void Forget(string key) => last.Remove(key);

    /// <summary>The lines noted since the last call.</summary>
    public IReadOnlyList<string> Take()
    {
        var lines = unreported.ToList();
        unreported.Clear();
        return lines;
    }
}
