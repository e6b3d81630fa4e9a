using System.Net;
using System.Net.Sockets;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Forwarding;

/// <summary>
/// Forwarding as configured (<c>spec.forwarding</c>, or <c>--upstream</c>/<c>--forward-allow</c>): the resolvers to
/// ask, in order, the clients that may ask, and the limits of each exchange.
/// </summary>
public sealed record ForwardingSettings
{
    public const int DnsPort = 53;

    /// <summary>Loopback, RFC 1918, RFC 4193 and link-local: the LAN, never the internet.</summary>
    public static IReadOnlyList<IPNetwork> DefaultAllowFrom { get; } =
    [
        IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128"),
        IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("fc00::/7"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("fe80::/10"),
    ];

    public required IReadOnlyList<IPEndPoint> Upstreams { get; init; }

    public IReadOnlyList<IPNetwork> AllowFrom { get; init; } = DefaultAllowFrom;

    /// <summary>How long one upstream gets before the next is tried.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(ForwardingSpec.DefaultTimeoutMilliseconds);

    /// <summary>Exchanges with upstreams at once; beyond this a query gets SERVFAIL without waiting.</summary>
    public int MaxInFlight { get; init; } = ForwardingSpec.DefaultMaxInFlight;

    /// <summary>Whether a query from <paramref name="client"/> may be forwarded: in the allow-list and not an upstream itself (a loop).</summary>
    public bool Allows(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
            client = client.MapToIPv4();
        foreach (var upstream in Upstreams)
        {
            if (upstream.Address.Equals(client))
                return false;
        }
        foreach (var network in AllowFrom)
        {
            if (network.Contains(client))
                return true;
        }
        return false;
    }

    /// <summary>One line for the log and the console.</summary>
    public string Describe() =>
        $"names outside the zone are forwarded to {string.Join(", ", Upstreams)} (timeout {Timeout.TotalMilliseconds:0} ms each, at most {MaxInFlight} at once) for clients in {string.Join(", ", AllowFrom)}";

    /// <summary>
    /// <c>spec.forwarding</c> as settings; null settings when forwarding is off (no upstreams). The problem names
    /// the field, e.g. <c>spec.forwarding.upstreams[1]: 'x' is not an IP address[:port]</c>.
    /// </summary>
    public static bool TryRead(ForwardingSpec? spec, out ForwardingSettings? settings, out string problem)
    {
        settings = null;
        problem = "";
        if (spec is null || spec.Upstreams is not { Count: > 0 })
            return true;
        if (spec.TimeoutMilliseconds is < 100 or > 30000)
        {
            problem = $"spec.forwarding.timeoutMilliseconds: {spec.TimeoutMilliseconds} is outside 100–30000";
            return false;
        }
        if (spec.MaxInFlight is < 1 or > 10000)
        {
            problem = $"spec.forwarding.maxInFlight: {spec.MaxInFlight} is outside 1–10000";
            return false;
        }
        if (!TryParse(spec.Upstreams, spec.AllowFrom, i => $"spec.forwarding.upstreams[{i}]", i => $"spec.forwarding.allowFrom[{i}]", out settings, out problem))
            return false;
        settings = settings! with { Timeout = TimeSpan.FromMilliseconds(spec.TimeoutMilliseconds), MaxInFlight = spec.MaxInFlight };
        return true;
    }

    /// <summary>
    /// Upstreams and allow-list from text; <paramref name="allowFrom"/> null or empty means the defaults. Each
    /// problem starts with the name <paramref name="upstreamField"/> or <paramref name="allowField"/> gives the item.
    /// </summary>
    public static bool TryParse(IEnumerable<string> upstreams, IEnumerable<string>? allowFrom, Func<int, string> upstreamField, Func<int, string> allowField,
        out ForwardingSettings? settings, out string problem)
    {
        settings = null;
        var endPoints = new List<IPEndPoint>();
        var index = 0;
        foreach (var text in upstreams)
        {
            if (ParseUpstream(text) is not { } endPoint)
            {
                problem = $"{upstreamField(index)}: '{text}' is not an IP address[:port] (for example 192.168.1.1, 192.168.1.1:5353 or [fd00::1]:53)";
                return false;
            }
            if (endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                problem = $"{upstreamField(index)}: '{text}' is not an address a query can be sent to";
                return false;
            }
            endPoints.Add(endPoint);
            index++;
        }
        var networks = new List<IPNetwork>();
        index = 0;
        foreach (var text in allowFrom ?? [])
        {
            if (ParseNetwork(text, out var why) is not { } network)
            {
                problem = $"{allowField(index)}: '{text}' {why}";
                return false;
            }
            networks.Add(network);
            index++;
        }
        problem = "";
        settings = endPoints.Count == 0 ? null : new ForwardingSettings { Upstreams = endPoints, AllowFrom = networks.Count > 0 ? networks : DefaultAllowFrom };
        return true;
    }

    /// <summary>'ip' (port 53), 'ip:port', '[ipv6]:port', '[ipv6]' or a bare IPv6 address; null when it is none of them.</summary>
    public static IPEndPoint? ParseUpstream(string text)
    {
        text = text.Trim();
        if (!Dotted(text))
            return null;
        if (IPAddress.TryParse(text.StartsWith('[') && text.EndsWith(']') ? text[1..^1] : text, out var address) && !text.Contains("]:"))
            return new IPEndPoint(address, DnsPort);
        if (IPEndPoint.TryParse(text, out var endPoint) && text.Contains(':') && endPoint.Port > 0
            && (endPoint.AddressFamily == AddressFamily.InterNetwork || text.StartsWith('[')))
            return endPoint;
        return null;
    }

    /// <summary>
    /// IPv4 written as four numbers: .NET also reads '10' as 0.0.0.10 and '192.168.1' as 192.168.0.1, which in a
    /// resolver or an allow-list is a typo, never the intent. IPv6 (with a ':') is left to the parser.
    /// </summary>
    private static bool Dotted(string text)
    {
        var address = text.Split('/')[0];
        if (address.StartsWith('[') || address.Count(c => c == ':') > 1)
            return true;
        return address.Split(':')[0].Count(c => c == '.') == 3;
    }

    /// <summary>A CIDR, or a single address as /32 or /128.</summary>
    private static IPNetwork? ParseNetwork(string text, out string why)
    {
        text = text.Trim();
        why = "is not a CIDR (for example 192.168.0.0/16) or an IP address";
        if (!Dotted(text))
            return null;
        why = "";
        if (!text.Contains('/'))
        {
            if (IPAddress.TryParse(text, out var single))
                return new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            why = "is not a CIDR (for example 192.168.0.0/16) or an IP address";
            return null;
        }
        var slash = text.IndexOf('/');
        if (!IPAddress.TryParse(text[..slash], out var address) || !int.TryParse(text[(slash + 1)..], out var length)
            || length < 0 || length > (address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
        {
            why = "is not a CIDR (for example 192.168.0.0/16) or an IP address";
            return null;
        }
        var network = new IPNetwork(Mask(address, length), length);
        if (!network.BaseAddress.Equals(address))
        {
            // A typo for a host address or a prefix length; guessing which could open forwarding to the wrong clients.
            why = $"has bits set after the prefix length (the network is {network})";
            return null;
        }
        return network;
    }

    private static IPAddress Mask(IPAddress address, int length)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(length - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }
}
