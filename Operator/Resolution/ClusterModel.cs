using System.Collections.Immutable;
using ARSoft.Tools.Net;
using k8s.Models;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// The Kubernetes objects DNS depends on (as projections: <see cref="ServiceView"/>, <see cref="SliceView"/>), and
/// the zone built from them. Mutable with a single writer (the snapshot reader, or the informer loop); every
/// <see cref="Publish"/> hands out an immutable <see cref="Zone"/>. Upserts only mark what they touch, and
/// <see cref="Publish"/> rebuilds only those names, on persistent dictionaries, so its cost follows the size of the
/// change, not of the cluster. The indexes live in small types of their own: <see cref="SliceIndex"/>,
/// <see cref="AliasClaims"/>, <see cref="SkipReport"/>.
/// </summary>
public sealed class ClusterModel
{
    private readonly ZoneSettings settings;
    private readonly TimeProvider time;

    private readonly Dictionary<string, ServiceView> services = new(StringComparer.Ordinal);
    private readonly SliceIndex slices = new();
    private readonly Dictionary<string, V1Node> nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, V1Ingress> ingresses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, V1Gateway> gateways = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GatewayRoute> routes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> routesOfGateway = new(StringComparer.Ordinal);

    // What the current zone holds per served Service, and the reverse indexes aliases need.
    private readonly Dictionary<string, ServiceRecords> published = new(StringComparer.Ordinal);
    private readonly EndpointNodes endpointNodes = new();
    private readonly Dictionary<string, string> serviceOfHostname = new(StringComparer.Ordinal);
    private readonly Dictionary<DomainName, int> servicesInNamespace = new();
    private readonly AliasClaims claims = new();
    private readonly ReverseIndex reverse = new();
    private readonly HashSet<string> dirtyServices = new(StringComparer.Ordinal);
    private IReadOnlySet<string> unreachableNodes = new HashSet<string>(StringComparer.Ordinal);

    private readonly ImmutableDictionary<DomainName, ZoneNode>.Builder names = ImmutableDictionary.CreateBuilder<DomainName, ZoneNode>();
    private readonly ImmutableDictionary<DomainName, ZoneNode>.Builder aliases = ImmutableDictionary.CreateBuilder<DomainName, ZoneNode>();
    private readonly ImmutableDictionary<DomainName, ZoneNode>.Builder oneLabelWildcards = ImmutableDictionary.CreateBuilder<DomainName, ZoneNode>();
    private readonly ImmutableDictionary<DomainName, ZoneNode>.Builder multiLabelWildcards = ImmutableDictionary.CreateBuilder<DomainName, ZoneNode>();
    private readonly ImmutableDictionary<DomainName, int>.Builder aliasParents = ImmutableDictionary.CreateBuilder<DomainName, int>();
    private readonly DomainName apex;
    private readonly DomainName nameServer;
    private Zone current;
    private readonly SkipReport skipped = new();

    // What the next zone changes (ZoneChange), and the recent changes still traced back through.
    private const int MaxTracedNames = 4096, MaxTracedVersions = 64;
    private readonly HashSet<DomainName> touched = [];
    private bool touchedTooMany, beyondNames;
    private readonly Queue<ZoneChange> traced = new();
    private int tracedNames;

    public ClusterModel(ZoneSettings settings, TimeProvider? time = null)
    {
        this.settings = settings;
        this.time = time ?? TimeProvider.System;
        apex = settings.Apex;
        nameServer = settings.NameServer;
        if (settings.NameServerAddresses.Count > 0)
            names[nameServer] = ZoneNode.Addresses(settings.NameServerAddresses);
        current = Snapshot(SerialAfter(0));
    }

    public ZoneSettings Settings => settings;

    /// <summary>The zone of the last <see cref="Publish"/>.</summary>
    public Zone Current => current;

    /// <summary>The Nodes of a snapshot file, for `serve`'s routes; only their podCIDRs play a part in the zone (the reverse zones).</summary>
    public IReadOnlyCollection<V1Node> Nodes => nodes.Values;

    public IReadOnlyCollection<ServiceView> Services => services.Values;

    /// <summary>How many Services the zone answers for, kept as they are published rather than counted on demand.</summary>
    public int ServedCount => published.Count;

    /// <summary>Ready addresses in the answers of all served Services, kept as they are published.</summary>
    public int ServedEndpoints { get; private set; }

    /// <summary>What was skipped since the last call, one line per object whose odd values are new or changed.</summary>
    public IReadOnlyList<string> TakeSkipped() => skipped.Take();

    /// <summary>
    /// Endpoints on these nodes leave the answers of their Services (a node that stopped answering). Fail open: a
    /// Service whose every ready endpoint is on such nodes keeps answering with all of them, as before. Only the
    /// Services with endpoints on nodes that joined or left the set are rebuilt, on the next <see cref="Publish"/>.
    /// </summary>
    public void SetUnreachableNodes(IReadOnlySet<string> nodeNames)
    {
        var next = nodeNames.ToHashSet(StringComparer.Ordinal);
        foreach (var node in next.Where(n => !unreachableNodes.Contains(n)).Concat(unreachableNodes.Where(n => !next.Contains(n))))
            dirtyServices.UnionWith(endpointNodes.ServicesOn(node));
        unreachableNodes = next;
    }

    /// <summary>Adds or replaces a Service, EndpointSlice (as views or KubernetesClient models), Node, Ingress, Gateway, HTTPRoute, GRPCRoute or TLSRoute.</summary>
    public void Upsert(object item)
    {
        switch (item)
        {
            case ServiceView service:
                UpsertService(service);
                break;
            case V1Service service:
                UpsertService(ServiceView.From(service));
                break;
            case SliceView slice:
                UpsertSlice(slice);
                break;
            case V1EndpointSlice slice:
                UpsertSlice(SliceView.From(slice));
                break;
            case V1Node node:
                nodes[node.Metadata.Name] = node;
                reverse.SetNode(node.Metadata.Name, ReverseIndex.PodCidrs(node));
                break;
            case V1Ingress ingress:
                var ingressKey = KeyOf(ingress.Metadata);
                ingresses[ingressKey] = ingress;
                claims.Set("Ingress/" + ingressKey, IngressClaims(ingress));
                skipped.Note("Ingress/" + ingressKey, ExcludeProblem("Ingress " + ingressKey, ingress.Metadata));
                break;
            case V1Gateway gateway:
                var gatewayKey = KeyOf(gateway.Metadata);
                gateways[gatewayKey] = gateway;
                RefreshRoutesOf(gatewayKey);
                break;
            case GatewayRoute route:
                UpsertRoute(route);
                break;
            default:
                throw new ArgumentException($"ClusterModel does not keep objects of type {item.GetType().Name}", nameof(item));
        }
    }

    /// <summary>Removes an object; only its kind, namespace and name are read.</summary>
    public void Delete(object item)
    {
        switch (item)
        {
            case ServiceView service:
                DeleteService(KeyOf(service));
                break;
            case V1Service service:
                DeleteService(KeyOf(service.Metadata));
                break;
            case SliceView slice:
                DeleteSlice(KeyOf(slice));
                break;
            case V1EndpointSlice slice:
                DeleteSlice(KeyOf(slice.Metadata));
                break;
            case V1Node node:
                nodes.Remove(node.Metadata.Name);
                reverse.RemoveNode(node.Metadata.Name);
                break;
            case V1Ingress ingress:
                var ingressKey = KeyOf(ingress.Metadata);
                ingresses.Remove(ingressKey);
                claims.Set("Ingress/" + ingressKey, []);
                skipped.Forget("Ingress/" + ingressKey);
                break;
            case V1Gateway gateway:
                var gatewayKey = KeyOf(gateway.Metadata);
                gateways.Remove(gatewayKey);
                RefreshRoutesOf(gatewayKey);
                break;
            case GatewayRoute route:
                var routeKey = RouteKey(route);
                if (routes.Remove(routeKey, out var old))
                    ForgetRouteParents(routeKey, old);
                claims.Set(routeKey, []);
                skipped.Forget(routeKey);
                break;
            default:
                throw new ArgumentException($"ClusterModel does not keep objects of type {item.GetType().Name}", nameof(item));
        }
    }

    /// <summary>
    /// The zone after the changes since the last call. Returns the same zone when no answer changed, so the
    /// SOA serial moves only with the data.
    /// </summary>
    public Zone Publish()
    {
        var changed = false;
        foreach (var key in dirtyServices)
            changed |= RepublishService(key);
        dirtyServices.Clear();
        foreach (var pattern in claims.TakeDirty())
            changed |= RepublishPattern(pattern);
        changed |= reverse.Changed;

        if (changed)
            current = Snapshot(SerialAfter(current.Serial));
        touched.Clear();
        touchedTooMany = beyondNames = false;
        return current;
    }

    private Zone Snapshot(uint serial)
    {
        var reverseZones = reverse.Snapshot();
        // The first zone, or a change too large to be worth tracing, is traced back to nothing.
        var change = current is null || touchedTooMany
            ? ZoneChange.Unrelated()
            : new ZoneChange([.. touched], beyondNames || !ReferenceEquals(reverseZones.Apexes, current.Reverse.Apexes), current.Change);
        Trace(change);
        return new(settings, serial, names.ToImmutable(), aliases.ToImmutable(), oneLabelWildcards.ToImmutable(), multiLabelWildcards.ToImmutable(),
            aliasParents.ToImmutable(), reverseZones, change);
    }

    /// <summary>Keeps the last changes traceable, up to a bounded number of versions and names, and cuts the chain before them.</summary>
    private void Trace(ZoneChange change)
    {
        traced.Enqueue(change);
        tracedNames += change.Names.Count;
        while (traced.Count > 1 && (traced.Count > MaxTracedVersions || tracedNames > MaxTracedNames))
        {
            tracedNames -= traced.Dequeue().Names.Count;
            traced.Peek().Cut();
        }
    }

    /// <summary>A name whose lookup the next zone may answer otherwise (see <see cref="ZoneChange.Names"/>).</summary>
    private void Touch(DomainName name)
    {
        if (touchedTooMany)
            return;
        touched.Add(name);
        if (touched.Count <= MaxTracedNames)
            return;
        touchedTooMany = true; // e.g. the initial sync: nothing to carry over anyway
        touched.Clear();
    }

    /// <summary>The PTR owners whose names change with a served name's addresses, and the names above them (which may appear or go).</summary>
    private void TouchPointers(DomainName? beforeName, ZoneNode? before, DomainName? afterName, ZoneNode? after)
    {
        var sameName = beforeName is not null && beforeName.Equals(afterName);
        if (sameName && before is not null && after is not null && before.SameAs(after))
            return;
        var had = before is null ? [] : before.V4.Concat(before.V6).ToHashSet();
        var has = after is null ? [] : after.V4.Concat(after.V6).ToHashSet();
        if (sameName)
            had.SymmetricExceptWith(has);
        else
            had.UnionWith(has);
        foreach (var address in had)
        {
            for (var owner = ReverseNames.PointerOf(address); owner.LabelCount > 2; owner = owner.GetParentName())
                Touch(owner);
        }
    }

    /// <summary>Seconds since 1970 when they are ahead, so a restarted server does not go back in serials.</summary>
    private uint SerialAfter(uint previous) =>
        Math.Max(previous + 1, (uint)Math.Clamp(time.GetUtcNow().ToUnixTimeSeconds(), 1, uint.MaxValue));

    private void UpsertService(ServiceView service)
    {
        var key = KeyOf(service);
        services[key] = service;
        dirtyServices.Add(key);
        claims.Set("Service/" + key, ServiceClaims(service));
        skipped.Note("Service/" + key, ServedService.AnnotationProblem(service) is { } problem ? $"Service {key}: {problem}" : null);
    }

    private void DeleteService(string key)
    {
        services.Remove(key);
        dirtyServices.Add(key);
        claims.Set("Service/" + key, []);
        skipped.Forget("Service/" + key);
    }

    private void UpsertSlice(SliceView slice)
    {
        var key = KeyOf(slice);
        dirtyServices.UnionWith(slices.Upsert(slice));
        skipped.Note(key, SkipLine(key, slice));
    }

    private void DeleteSlice(string key)
    {
        if (slices.Remove(key) is { } serviceKey)
            dirtyServices.Add(serviceKey);
        skipped.Forget(key);
    }

    private static string? SkipLine(string key, SliceView slice)
    {
        var bad = ServiceRecords.UnusableAddresses(slice).ToList();
        var hostnames = ServiceRecords.InvalidHostnames(slice).Distinct(StringComparer.Ordinal).ToList();
        if (bad.Count == 0 && hostnames.Count == 0)
            return null;
        var problems = new List<string>(2);
        if (bad.Count > 0)
            problems.Add($"skipped {bad.Count} endpoints.addresses that are not {slice.AddressType} addresses: {Shown(bad)}");
        if (hostnames.Count > 0)
            problems.Add($"skipped {hostnames.Count} endpoints.hostname that are not DNS labels (their pods get no name of their own): {Shown(hostnames)}");
        return $"EndpointSlice {key}: {string.Join("; ", problems)}";

        static string Shown(List<string> values) =>
            string.Join(", ", values.Take(5).Select(a => $"'{a}'")) + (values.Count > 5 ? $" and {values.Count - 5} more" : "");
    }

    private bool RepublishService(string key)
    {
        published.TryGetValue(key, out var before);
        ServiceRecords? after = null;
        if (services.TryGetValue(key, out var service) && ServedService.IsServed(service, settings))
        {
            var hostname = ServedService.HostnameOf(service, settings);
            var serviceSlices = slices.Of(key).ToArray();
            after = ServiceRecords.Build(service, hostname, serviceSlices, unreachableNodes);
            endpointNodes.Set(key, serviceSlices);
        }
        else
            endpointNodes.Forget(key);

        var changed = false;
        var keep = after?.Names.Select(n => n.Key).ToHashSet() ?? [];
        foreach (var (name, _) in before?.Names ?? [])
        {
            if (!keep.Contains(name))
                changed |= names.Remove(name);
        }
        foreach (var (name, node) in after?.Names ?? [])
        {
            if (!names.TryGetValue(name, out var existing) || !existing.SameAs(node))
            {
                names[name] = node;
                changed = true;
            }
        }

        // Every name of a changed Service, not only the changed ones: an SRV answer carries its targets' addresses.
        if (changed)
        {
            foreach (var (name, _) in (before?.Names ?? []).Concat(after?.Names ?? []))
                Touch(name);
        }
        TouchPointers(before?.Names[0].Key, before?.Node, after?.Names[0].Key, after?.Node);
        reverse.Replace(before?.Names[0].Key, before?.Node, after?.Names[0].Key, after?.Node);
        if (before is not null)
        {
            published.Remove(key);
            serviceOfHostname.Remove(before.Hostname);
            CountNamespace(before.Names[0].Key, -1);
            ServedEndpoints -= before.Node.V4.Length + before.Node.V6.Length;
        }
        if (after is not null)
        {
            published[key] = after;
            serviceOfHostname[after.Hostname] = key;
            CountNamespace(after.Names[0].Key, +1);
            ServedEndpoints += after.Node.V4.Length + after.Node.V6.Length;
        }

        // Aliases pointing at this Service follow its addresses.
        if (before?.Hostname != after?.Hostname || before is null || after is null || !before.Node.SameAs(after.Node))
        {
            foreach (var hostname in new[] { before?.Hostname, after?.Hostname })
            {
                if (hostname is not null)
                    claims.TargetChanged(hostname);
            }
        }
        return changed;
    }

    /// <summary><c>&lt;namespace&gt;.&lt;domain&gt;</c> exists while it holds a served Service (an empty non-terminal, RFC 8020).</summary>
    private void CountNamespace(DomainName service, int delta)
    {
        var ns = service.GetParentName();
        var count = servicesInNamespace.GetValueOrDefault(ns) + delta;
        if (count > 0)
        {
            servicesInNamespace[ns] = count;
            if (names.TryAdd(ns, ZoneNode.Empty))
                Touch(ns);
        }
        else
        {
            servicesInNamespace.Remove(ns);
            if (!ns.Equals(nameServer) && names.Remove(ns))
                Touch(ns);
        }
    }

    private bool RepublishPattern(AliasPattern pattern)
    {
        // Every claim's served targets, in source order: the union is answered (the same whatever the order of
        // events), and claims that disagree about the targets are reported. Excluded objects made no claim.
        var claimed = claims.ClaimsOf(pattern)
            .Select(c => (c.Source, Targets: c.Targets.Where(serviceOfHostname.ContainsKey).Order(StringComparer.Ordinal).ToArray()))
            .Where(c => c.Targets.Length > 0)
            .OrderBy(c => c.Source, StringComparer.Ordinal)
            .ToArray();
        var targets = claimed.SelectMany(c => c.Targets).Distinct().Order(StringComparer.Ordinal).ToArray();
        skipped.Note("Alias/" + pattern, ConflictLine(pattern, claimed));
        var table = pattern.Kind switch
        {
            AliasKind.Exact => aliases,
            AliasKind.OneLabelWildcard => oneLabelWildcards,
            _ => multiLabelWildcards,
        };
        var name = Hostnames.ToName(pattern.Host);
        if (targets.Length == 0)
        {
            if (!table.Remove(name))
                return false;
            TouchAlias(pattern, name);
            CountAliasParents(pattern, name, -1);
            return true;
        }
        if (!table.ContainsKey(name))
            CountAliasParents(pattern, name, +1);

        var node = ZoneNode.Addresses(targets
            .Select(t => published[serviceOfHostname[t]].Node)
            .SelectMany(n => n.V4.Concat(n.V6)));
        if (table.TryGetValue(name, out var existing) && existing.SameAs(node))
            return false;
        table[name] = node;
        TouchAlias(pattern, name);
        return true;
    }

    /// <summary>An exact alias changes its own name; a wildcard, names nobody listed (every name below it).</summary>
    private void TouchAlias(AliasPattern pattern, DomainName name)
    {
        if (pattern.Kind == AliasKind.Exact)
            Touch(name);
        else
            beyondNames = true;
    }

    /// <summary>Claims of one name that point at different Services: answered with all of them, and said so.</summary>
    private static string? ConflictLine(AliasPattern pattern, (string Source, string[] Targets)[] claimed)
    {
        if (claimed.Select(c => string.Join(",", c.Targets)).Distinct().Count() < 2)
            return null;
        var who = claimed.Select(c => $"{SourceName(c.Source)} → {string.Join(", ", c.Targets)}");
        return $"{pattern} is claimed by {string.Join("; ", who)}: answering with the addresses of all of them "
            + $"(annotate the ones to leave out with {ServedService.ExcludeAnnotation}: \"true\")";
    }

    /// <summary><c>Ingress default/shop</c> for the claim source <c>Ingress/default/shop</c>.</summary>
    private static string SourceName(string source)
    {
        var slash = source.IndexOf('/');
        return slash < 0 ? source : source[..slash] + " " + source[(slash + 1)..];
    }

    /// <summary>An odd <see cref="ServedService.ExcludeAnnotation"/> value on an Ingress or route, in one line naming both.</summary>
    private static string? ExcludeProblem(string who, V1ObjectMeta? metadata) =>
        AnnotationFlag.Problem(ServedService.ExcludeAnnotation, AnnotationFlag.Of(metadata?.Annotations, ServedService.ExcludeAnnotation)) is { } problem
            ? $"{who}: {problem}; treated as not excluded"
            : null;

    private static bool IsExcluded(V1ObjectMeta? metadata) =>
        AnnotationFlag.IsTrue(AnnotationFlag.Of(metadata?.Annotations, ServedService.ExcludeAnnotation));

    /// <summary>
    /// An alias inside the zone makes the names between it and the apex exist (RFC 8020); for a wildcard the
    /// name after <c>*.</c> exists too.
    /// </summary>
    private void CountAliasParents(AliasPattern pattern, DomainName name, int delta)
    {
        var parent = pattern.Kind == AliasKind.Exact ? name.GetParentName() : name;
        for (; parent.IsSubDomainOf(apex); parent = parent.GetParentName())
        {
            var count = aliasParents.GetValueOrDefault(parent) + delta;
            if (count > 0)
                aliasParents[parent] = count;
            else
                aliasParents.Remove(parent);
            if (count == 0 || (count == 1 && delta > 0))
                Touch(parent);
        }
    }

    private AliasClaim[] ServiceClaims(ServiceView service)
    {
        if (AnnotationFlag.IsTrue(service.Exclude))
            return [];
        var target = ServedService.HostnameOf(service, settings);
        return ServedService.AliasesOf(service)
            .Select(h => AliasPattern.Parse(h, AliasKind.OneLabelWildcard))
            .OfType<AliasPattern>()
            .Select(p => new AliasClaim(p, [target]))
            .ToArray();
    }

    /// <summary>The distinct, normalised names an Ingress or Gateway status points at (candidates for served names).</summary>
    private static string[] TargetNames(IEnumerable<string?> hostnames) => hostnames
        .OfType<string>()
        .Select(Hostnames.Normalise)
        .Where(h => h.Length > 0)
        .Distinct()
        .ToArray();

    /// <summary>Every rule host of an Ingress whose status names a served Service (Ingress wildcards: one label).</summary>
    private static AliasClaim[] IngressClaims(V1Ingress ingress)
    {
        if (IsExcluded(ingress.Metadata))
            return [];
        var targets = TargetNames((ingress.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Hostname));
        if (targets.Length == 0)
            return [];
        return (ingress.Spec?.Rules ?? [])
            .Select(r => r.Host)
            .OfType<string>()
            .Select(h => AliasPattern.Parse(h, AliasKind.OneLabelWildcard))
            .OfType<AliasPattern>()
            .Distinct()
            .Select(p => new AliasClaim(p, targets))
            .ToArray();
    }

    private void UpsertRoute(GatewayRoute route)
    {
        var key = RouteKey(route);
        if (routes.TryGetValue(key, out var old))
            ForgetRouteParents(key, old);
        routes[key] = route;
        foreach (var gatewayKey in ParentGateways(route))
        {
            if (!routesOfGateway.TryGetValue(gatewayKey, out var set))
                routesOfGateway[gatewayKey] = set = new(StringComparer.Ordinal);
            set.Add(key);
        }
        claims.Set(key, RouteClaims(route));
        skipped.Note(key, ExcludeProblem(SourceName(key), route.Metadata));
    }

    private void ForgetRouteParents(string routeKey, GatewayRoute route)
    {
        foreach (var gatewayKey in ParentGateways(route))
        {
            if (routesOfGateway.TryGetValue(gatewayKey, out var set) && set.Remove(routeKey) && set.Count == 0)
                routesOfGateway.Remove(gatewayKey);
        }
    }

    private void RefreshRoutesOf(string gatewayKey)
    {
        foreach (var routeKey in routesOfGateway.GetValueOrDefault(gatewayKey) ?? [])
            claims.Set(routeKey, RouteClaims(routes[routeKey]));
    }

    /// <summary>Every hostname of a route whose parent Gateway's status carries a served name (wildcards: one or more labels).</summary>
    private AliasClaim[] RouteClaims(GatewayRoute route)
    {
        if (IsExcluded(route.Metadata))
            return [];
        var targets = TargetNames(ParentGateways(route)
            .Select(gateways.GetValueOrDefault)
            .SelectMany(g => g?.Status?.Addresses ?? [])
            .Where(a => a.Type is null or "Hostname")
            .Select(a => a.Value));
        if (targets.Length == 0)
            return [];
        return (route.Spec?.Hostnames ?? [])
            .Select(h => AliasPattern.Parse(h, AliasKind.MultiLabelWildcard))
            .OfType<AliasPattern>()
            .Distinct()
            .Select(p => new AliasClaim(p, targets))
            .ToArray();
    }

    private static IEnumerable<string> ParentGateways(GatewayRoute route) =>
        (route.Spec?.ParentRefs ?? [])
            .Where(p => p.IsGateway && !string.IsNullOrEmpty(p.Name))
            .Select(p => Key(p.Namespace ?? route.Metadata.NamespaceProperty, p.Name!))
            .Distinct();

    private static string RouteKey(GatewayRoute route) => route.Kind + "/" + KeyOf(route.Metadata);

    private static string KeyOf(V1ObjectMeta metadata) => Key(metadata.NamespaceProperty, metadata.Name);

    /// <summary>The view's own key (no new string per event) when it has a namespace, as every Service and slice does.</summary>
    internal static string KeyOf(Kube.ObjectView view) => string.IsNullOrEmpty(view.Namespace) ? Key(view.Namespace, view.Name) : view.Key;

    internal static string Key(string? ns, string name) => (ns ?? "default") + "/" + name;
}

internal enum AliasKind
{
    Exact,
    OneLabelWildcard,
    MultiLabelWildcard,
}

/// <summary>An alias hostname; for wildcards <see cref="Host"/> is the part after <c>*.</c>.</summary>
internal readonly record struct AliasPattern(string Host, AliasKind Kind)
{
    /// <summary>As written in the objects: <c>shop.example.com</c>, <c>*.example.com</c>.</summary>
    public override string ToString() => Kind == AliasKind.Exact ? Host : "*." + Host;

    /// <summary>Null for names that cannot be DNS names (an empty label, a wildcard not in front).</summary>
    public static AliasPattern? Parse(string hostname, AliasKind wildcardKind)
    {
        var host = Hostnames.Normalise(hostname);
        var kind = AliasKind.Exact;
        if (host.StartsWith("*.", StringComparison.Ordinal))
        {
            host = host[2..];
            kind = wildcardKind;
        }
        if (host.Length == 0 || host.Contains('*') || host.Split('.').Any(l => l.Length is 0 or > 63) || !DomainName.TryParse(host, out _))
            return null;
        return new AliasPattern(host, kind);
    }
}

internal sealed record AliasClaim(AliasPattern Pattern, string[] Targets);
