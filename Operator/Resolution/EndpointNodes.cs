namespace MiniLb.Operator.Resolution;

/// <summary>
/// The nodes each served Service has ready endpoints on, so a node that stops (or starts again) answering finds the
/// Services whose answers it changes. Only served Services are kept: the answers of the others do not depend on
/// their nodes, and at 10,000 Services (2,000 served) indexing every Service was 2 MB.
/// </summary>
internal sealed class EndpointNodes
{
    private readonly Dictionary<string, string[]> nodesOf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> servicesOn = new(StringComparer.Ordinal);

    /// <summary>Sets the nodes of <paramref name="service"/>'s ready endpoints (none: forgets the Service).</summary>
    public void Set(string service, IEnumerable<SliceView> slices)
    {
        var nodes = slices.SelectMany(s => s.Endpoints).Where(e => e.IsReady).Select(e => e.NodeName).OfType<string>()
            .Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        Forget(service);
        if (nodes.Length == 0)
            return;
        nodesOf[service] = nodes;
        foreach (var node in nodes)
        {
            if (!servicesOn.TryGetValue(node, out var services))
                servicesOn[node] = services = new(StringComparer.Ordinal);
            services.Add(service);
        }
    }

    public void Forget(string service)
    {
        if (!nodesOf.Remove(service, out var nodes))
            return;
        foreach (var node in nodes)
        {
            if (servicesOn.TryGetValue(node, out var services) && services.Remove(service) && services.Count == 0)
                servicesOn.Remove(node);
        }
    }

    /// <summary>The served Services with a ready endpoint on <paramref name="node"/>.</summary>
    public IEnumerable<string> ServicesOn(string node) => servicesOn.TryGetValue(node, out var services) ? services : [];

    /// <summary>How many nodes hold a served Service's endpoint (for tests: a node no Service uses is not kept).</summary>
    public int NodeCount => servicesOn.Count;
}
