namespace MiniLb.Operator.Routes;

/// <summary>
/// DHCP option 121 (RFC 3442 classless static routes) for the IPv4 routes of a plan, cut to what one option
/// can carry. A DHCP option holds at most 255 octets (RFC 2132 section 2); dnsmasq refuses to start with a
/// longer one ("dhcp-option too long"), which takes the LAN's DHCP and DNS down with it.
/// </summary>
/// <param name="Carried">The routes in the option, in plan order.</param>
/// <param name="LeftOut">The IPv4 routes that did not fit; clients reach them through the default route, so the router needs them.</param>
/// <param name="Octets">The option's encoded length, the default route included.</param>
public sealed record DhcpOption121(IReadOnlyList<Route> Carried, IReadOnlyList<Route> LeftOut, int Octets)
{
    /// <summary>RFC 2132: the length octet of an option counts at most 255 octets of data.</summary>
    public const int MaxOctets = 255;

    /// <summary>
    /// The default route (0.0.0.0/0 via the router) that every option 121 must carry as well, because clients
    /// that use option 121 ignore option 3: a width octet and the 4-octet router address.
    /// </summary>
    public const int DefaultRouteOctets = 1 + 4;

    public bool Fits => LeftOut.Count == 0;

    /// <summary>
    /// The IPv4 routes of <paramref name="plan"/> in order, as many as fit together with the default route.
    /// Later routes are left out rather than skipped over, so the option does not change shape as nodes come
    /// and go at the end of the list.
    /// </summary>
    public static DhcpOption121 From(RoutePlan plan)
    {
        var carried = new List<Route>();
        var leftOut = new List<Route>();
        var octets = DefaultRouteOctets;
        foreach (var route in plan.Routes.Where(r => !r.IsIPv6))
        {
            var size = EncodedLength(route);
            if (leftOut.Count == 0 && octets + size <= MaxOctets)
            {
                carried.Add(route);
                octets += size;
            }
            else
            {
                leftOut.Add(route);
            }
        }
        return new(carried, leftOut, octets);
    }

    /// <summary>RFC 3442 section 3: the prefix width, the significant octets of the destination, the 4-octet router.</summary>
    public static int EncodedLength(Route route) => 1 + (route.Destination.PrefixLength + 7) / 8 + 4;

    /// <summary>The route's octets in the option (RFC 3442 section 3), as <see cref="EncodedLength"/> counts them.</summary>
    public static IEnumerable<byte> Encode(Route route) =>
        [(byte)route.Destination.PrefixLength,
         .. route.Destination.BaseAddress.GetAddressBytes().Take((route.Destination.PrefixLength + 7) / 8),
         .. route.Gateway.GetAddressBytes()];

    /// <summary>The dnsmasq line (without the default route, which only the router's owner knows), or null with no IPv4 route.</summary>
    public string? DnsmasqLine => Carried.Count == 0
        ? null
        : "dhcp-option=121," + string.Join(",", Carried.Select(r => $"{r.Destination},{r.Gateway}"));

    /// <summary>One sentence for people: what was left out and why; null when everything fits.</summary>
    public string? Problem => Fits
        ? null
        : $"{LeftOut.Count} of {Carried.Count + LeftOut.Count} IPv4 routes do not fit in DHCP option 121 (at most {MaxOctets} octets, RFC 2132; "
          + $"{Carried.Count} routes and the default route take {Octets}): clients reach the pods of "
          + Nodes(LeftOut) + " through the default route, so the router must have the routes (minilb routes --format ip), or use a DHCP server that splits long options (minilb routes --format isc-dhcpd)";

    private static string Nodes(IReadOnlyList<Route> routes)
    {
        var nodes = routes.Select(r => r.Node).Distinct().ToList();
        return "node" + (nodes.Count == 1 ? " " : "s ") + string.Join(", ", nodes.Take(5)) + (nodes.Count > 5 ? $" and {nodes.Count - 5} more" : "");
    }
}
