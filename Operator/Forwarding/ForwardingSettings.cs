using System.Diagnostics.CodeAnalysis;
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
    /// the field, e.g. <c>spec.forwarding.upstreams[1]</c>: <c>'x' is not an IP address[:port]</c>.
    /// </summary>
    public static bool TryRead(ForwardingSpec? spec, out ForwardingSettings? settings, [NotNullWhen(false)] out SpecProblem? problem)
    {
        settings = null;
        problem = null;
        if (spec is null)
            return true;
        // Checked with or without upstreams, as the schema does: a value out of range is a mistake either way.
        if (spec.TimeoutMilliseconds is < 100 or > 30000)
            problem = new(Field + ".timeoutMilliseconds", $"{spec.TimeoutMilliseconds} must be between 100 and 30000 milliseconds");
        else if (spec.MaxInFlight is < 1 or > 10000)
            problem = new(Field + ".maxInFlight", $"{spec.MaxInFlight} must be between 1 and 10000");
        else if (Items(spec.Upstreams, "upstreams", ParseUpstreamProblem, out var upstreams) is { } badUpstream)
            problem = badUpstream;
        else if (Items(spec.AllowFrom, "allowFrom", ParseNetworkProblem, out var networks) is { } badNetwork)
            problem = badNetwork;
        else if (upstreams.Count > 0)
            settings = new ForwardingSettings
            {
                Upstreams = upstreams,
                AllowFrom = networks.Count > 0 ? networks : DefaultAllowFrom,
                Timeout = TimeSpan.FromMilliseconds(spec.TimeoutMilliseconds),
                MaxInFlight = spec.MaxInFlight,
            };
        return problem is null;
    }

    private const string Field = "spec.forwarding";

    /// <summary>Each entry parsed, or the first that cannot be, named by its index.</summary>
    private static SpecProblem? Items<T>(IEnumerable<string>? texts, string key, Func<string, (T Value, string? Why)> parse, out List<T> items)
    {
        items = [];
        foreach (var text in texts ?? [])
        {
            var (value, why) = parse(text);
            if (why is not null)
                return new SpecProblem($"{Field}.{key}[{items.Count}]", $"'{text}' {why}");
            items.Add(value);
        }
        return null;
    }

    private static (IPEndPoint, string?) ParseUpstreamProblem(string text) => ParseUpstream(text) switch
    {
        null => (null!, "is not an IP address[:port] (for example 192.168.1.1, 192.168.1.1:5353 or [fd00::1]:53)"),
        var endPoint when endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any) => (null!, "is not an address a query can be sent to"),
        var endPoint => (endPoint, null),
    };

    private static (IPNetwork, string?) ParseNetworkProblem(string text) => ParseNetwork(text, out var why) is { } network ? (network, null) : (default, why);

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
