using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// Every name one served Service puts into the zone: its own name (A/AAAA), one name per ready endpoint
/// (the SRV targets), one SRV name per named port, and the <c>_proto</c> empty non-terminals between them.
/// </summary>
internal sealed record ServiceRecords(string Hostname, ZoneNode Node, ImmutableArray<KeyValuePair<DomainName, ZoneNode>> Names)
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <param name="unreachable">Nodes whose endpoints are left out, unless that would leave the Service without an address (fail open).</param>
    public static ServiceRecords Build(ServiceView service, string hostname, IEnumerable<SliceView> slices, IReadOnlySet<string>? unreachable = null)
    {
        var name = Hostnames.ToName(hostname);
        var served = slices.Where(s => s.AddressType is "IPv4" or "IPv6").ToArray();
        var ready = served.Select(s => (Slice: s, Addresses: ReadyAddresses(s, unreachable).ToArray())).ToArray();
        if (unreachable is { Count: > 0 } && ready.All(r => r.Addresses.Length == 0))
            ready = served.Select(s => (Slice: s, Addresses: ReadyAddresses(s).ToArray())).ToArray();

        var addresses = ready.SelectMany(s => s.Addresses).Distinct().Order(AddressOrder.Instance).ToArray();
        var names = ImmutableArray.CreateBuilder<KeyValuePair<DomainName, ZoneNode>>();
        names.Add(new(name, ZoneNode.Addresses(addresses)));

        var endpointNames = new Dictionary<IPAddress, DomainName>();
        foreach (var address in addresses)
        {
            var endpointName = Below(name, EndpointLabel(address));
            endpointNames[address] = endpointName;
            names.Add(new(endpointName, ZoneNode.Addresses([address])));
        }

        var protocols = new HashSet<string>();
        foreach (var port in service.Ports)
        {
            if (string.IsNullOrEmpty(port.Name))
                continue;
            var protocol = (port.Protocol ?? "TCP").ToLowerInvariant();
            protocols.Add(protocol);
            var targets = new List<SrvTarget>();
            foreach (var (slice, sliceAddresses) in ready)
            {
                // The endpoint's own port: minilb's answers bypass the Service's port mapping.
                var slicePort = slice.Ports.FirstOrDefault(p => p.Name == port.Name && string.Equals(p.Protocol ?? "TCP", port.Protocol ?? "TCP", StringComparison.OrdinalIgnoreCase));
                if (slicePort?.Port is not { } number || number is <= 0 or > ushort.MaxValue)
                    continue;
                targets.AddRange(sliceAddresses.Select(a => new SrvTarget((ushort)number, endpointNames[a])));
            }
            var srvName = Below(name, "_" + port.Name, "_" + protocol);
            names.Add(new(srvName, new ZoneNode([], [], [.. targets.Distinct()])));
        }
        foreach (var protocol in protocols)
            names.Add(new(Below(name, "_" + protocol), ZoneNode.Empty));

        return new(hostname, names[0].Value, names.ToImmutable());
    }

    /// <summary>The addresses of <see cref="EndpointView.IsReady"/> endpoints, but those on <paramref name="unreachable"/> nodes.</summary>
    public static IEnumerable<IPAddress> ReadyAddresses(SliceView slice, IReadOnlySet<string>? unreachable = null)
    {
        var family = slice.AddressType == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        foreach (var endpoint in slice.Endpoints)
        {
            if (!endpoint.IsReady || (endpoint.NodeName is { } node && unreachable?.Contains(node) == true))
                continue;
            foreach (var text in endpoint.Addresses)
            {
                if (IPAddress.TryParse(text, out var address) && address.AddressFamily == family)
                    yield return address;
            }
        }
    }

    /// <summary>Addresses of an IPv4 or IPv6 slice that are not addresses of its family; they are never answered.</summary>
    public static IEnumerable<string> UnusableAddresses(SliceView slice)
    {
        if (slice.AddressType is not ("IPv4" or "IPv6"))
            yield break;
        var family = slice.AddressType == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        foreach (var text in slice.Endpoints.SelectMany(e => e.Addresses))
        {
            if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != family)
                yield return text;
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
