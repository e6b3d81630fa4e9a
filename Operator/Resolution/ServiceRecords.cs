using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// Every name one served Service puts into the zone: its own name (A/AAAA), one name per ready endpoint
/// (the SRV targets), one name per endpoint <c>hostname</c> (StatefulSet pods), one SRV name per named port, and
/// the <c>_proto</c> empty non-terminals between them.
/// </summary>
internal sealed record ServiceRecords(string Hostname, ZoneNode Node, ImmutableArray<KeyValuePair<DomainName, ZoneNode>> Names)
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <param name="unreachable">Nodes whose endpoints are left out, unless that would leave the Service without an address (fail open).</param>
    public static ServiceRecords Build(ServiceView service, string hostname, IEnumerable<SliceView> slices, IReadOnlySet<string>? unreachable = null)
    {
        var name = Hostnames.ToName(hostname);
        var served = slices.Where(s => s.AddressType is "IPv4" or "IPv6").ToArray();
        var ready = served.Select(s => (Slice: s, Endpoints: ReadyEndpoints(s, unreachable).ToArray())).ToArray();
        if (unreachable is { Count: > 0 } && ready.All(r => r.Endpoints.Length == 0))
            ready = served.Select(s => (Slice: s, Endpoints: ReadyEndpoints(s).ToArray())).ToArray();

        var addresses = ready.SelectMany(s => s.Endpoints).Select(e => e.Address).Distinct().Order(AddressOrder.Instance).ToArray();
        var names = ImmutableArray.CreateBuilder<KeyValuePair<DomainName, ZoneNode>>();
        names.Add(new(name, ZoneNode.Addresses(addresses)));

        var endpointNames = new Dictionary<IPAddress, DomainName>();
        foreach (var address in addresses)
        {
            var endpointName = Below(name, EndpointLabel(address));
            endpointNames[address] = endpointName;
            names.Add(new(endpointName, ZoneNode.Addresses([address])));
        }

        // Per-pod names: every address of the endpoints carrying that hostname (both families of a dual-stack pod;
        // two endpoints with one hostname answer both, in address order). SRV targets them instead of the
        // address-derived name, which stays for clients that already use it. Most Services have no hostnames: they
        // pay nothing here.
        var targetOf = ready.Any(r => r.Endpoints.Any(e => e.Hostname is not null)) ? PodNames(name, ready.SelectMany(r => r.Endpoints), addresses, names) : null;

        var protocols = new HashSet<string>();
        foreach (var port in service.Ports)
        {
            if (string.IsNullOrEmpty(port.Name))
                continue;
            var protocol = (port.Protocol ?? "TCP").ToLowerInvariant();
            protocols.Add(protocol);
            var targets = new List<SrvTarget>();
            foreach (var (slice, endpoints) in ready)
            {
                // The endpoint's own port: minilb's answers bypass the Service's port mapping.
                var slicePort = slice.Ports.FirstOrDefault(p => p.Name == port.Name && string.Equals(p.Protocol ?? "TCP", port.Protocol ?? "TCP", StringComparison.OrdinalIgnoreCase));
                if (slicePort?.Port is not { } number || number is <= 0 or > ushort.MaxValue)
                    continue;
                foreach (var endpoint in endpoints)
                    targets.Add(new SrvTarget((ushort)number, targetOf?.GetValueOrDefault(endpoint) ?? endpointNames[endpoint.Address]));
            }
            var srvName = Below(name, Resolution.Names.Intern("_" + port.Name)!, Resolution.Names.Intern("_" + protocol)!);
            names.Add(new(srvName, new ZoneNode([], [], [.. targets.Distinct()])));
        }
        foreach (var protocol in protocols)
            names.Add(new(Below(name, Resolution.Names.Intern("_" + protocol)!), ZoneNode.Empty));

        return new(hostname, names[0].Value, names.ToImmutable());
    }

    /// <summary>Adds a name per valid hostname to <paramref name="names"/>; returns the SRV target of each endpoint that has one.</summary>
    private static Dictionary<ReadyEndpoint, DomainName> PodNames(DomainName service, IEnumerable<ReadyEndpoint> endpoints, IPAddress[] addresses,
        ImmutableArray<KeyValuePair<DomainName, ZoneNode>>.Builder names)
    {
        var targetOf = new Dictionary<ReadyEndpoint, DomainName>();
        var addressLabels = addresses.Select(EndpointLabel).ToHashSet(StringComparer.Ordinal);
        var pods = endpoints.Where(e => IsPodLabel(e.Hostname)).GroupBy(e => e.Hostname!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            if (addressLabels.Contains(pod.Key))
                continue; // a hostname spelled like an address label: the address's own name wins
            var podName = Below(service, pod.Key);
            foreach (var endpoint in pod)
                targetOf[endpoint] = podName;
            names.Add(new(podName, ZoneNode.Addresses(pod.Select(e => e.Address).Distinct().Order(AddressOrder.Instance))));
        }
        return targetOf;
    }

    /// <summary>A ready address and the hostname of its endpoint (null for most pods; set for StatefulSet pods).</summary>
    public readonly record struct ReadyEndpoint(IPAddress Address, string? Hostname);

    /// <summary>The addresses of <see cref="EndpointView.IsReady"/> endpoints, but those on <paramref name="unreachable"/> nodes.</summary>
    public static IEnumerable<ReadyEndpoint> ReadyEndpoints(SliceView slice, IReadOnlySet<string>? unreachable = null)
    {
        var family = slice.AddressType == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        foreach (var endpoint in slice.Endpoints)
        {
            if (!endpoint.IsReady || (endpoint.NodeName is { } node && unreachable?.Contains(node) == true))
                continue;
            for (var i = 0; i < endpoint.AddressCount; i++)
            {
                if (endpoint.Address(i) is { } address && address.AddressFamily == family)
                    yield return new(address, endpoint.Hostname);
            }
        }
    }

    /// <summary>
    /// A hostname that can name a pod: an RFC 1123 label, as Kubernetes requires of <c>hostname</c> (so it can never
    /// be one of minilb's <c>_port</c>/<c>_proto</c> labels).
    /// </summary>
    public static bool IsPodLabel(string? hostname) =>
        hostname is { Length: > 0 and <= 63 }
        && hostname.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
        && hostname[0] != '-' && hostname[^1] != '-';

    /// <summary>Endpoint hostnames of a slice that cannot be DNS labels; their pods get no name of their own (an empty one means none).</summary>
    public static IEnumerable<string> InvalidHostnames(SliceView slice)
    {
        foreach (var endpoint in slice.Endpoints)
        {
            if (endpoint.Hostname is { Length: > 0 } hostname && !IsPodLabel(hostname))
                yield return hostname;
        }
    }

    /// <summary>Addresses of an IPv4 or IPv6 slice that are not addresses of its family; they are never answered.</summary>
    public static IEnumerable<string> UnusableAddresses(SliceView slice)
    {
        if (slice.AddressType is not ("IPv4" or "IPv6"))
            yield break;
        var family = slice.AddressType == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        foreach (var endpoint in slice.Endpoints)
        {
            for (var i = 0; i < endpoint.AddressCount; i++)
            {
                if (endpoint.Address(i)?.AddressFamily != family)
                    yield return endpoint.AddressText(i);
            }
        }
    }

    /// <summary>A name below <paramref name="parent"/>; labels from Kubernetes need none of <see cref="DomainName.Parse"/>'s escape handling.</summary>
    private static DomainName Below(DomainName parent, params string[] labels) => new([.. labels, .. parent.Labels]);

    /// <summary><c>10-244-1-5</c> for 10.244.1.5, <c>fd00-10-244--5</c> for fd00:10:244::5 (as Kubernetes names pods).</summary>
    public static string EndpointLabel(IPAddress address) => address.ToString().Replace('.', '-').Replace(':', '-');

    private sealed class AddressOrder : IComparer<IPAddress>
    {
        public static readonly AddressOrder Instance = new();

        public int Compare(IPAddress? x, IPAddress? y)
        {
            if (x is null || y is null)
                return x is null ? (y is null ? 0 : -1) : 1;
            var family = x.AddressFamily.CompareTo(y.AddressFamily);
            return family != 0 ? family : x.GetAddressBytes().AsSpan().SequenceCompareTo(y.GetAddressBytes());
        }
    }
}
