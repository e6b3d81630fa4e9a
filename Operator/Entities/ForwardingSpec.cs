namespace MiniLb.Operator.Entities;

/// <summary>
/// Forwarding of names outside the zone, for LANs whose router cannot forward one zone to minilb and so must use
/// minilb as its clients' DNS server. Off while <see cref="Upstreams"/> is empty.
/// </summary>
public sealed class ForwardingSpec
{
    public const int DefaultTimeoutMilliseconds = 2000;
    public const int DefaultMaxInFlight = 100;

    [Description("Resolvers that answer names outside minilb's zone and aliases, tried in order: 'ip', 'ip:port' or '[ipv6]:port' (port 53 when left out), for example '192.168.1.1' or '[fd00::1]:5353'. Empty (the default): no forwarding; such names get REFUSED, as from any authoritative server.")]
    public List<string> Upstreams { get; set; } = [];

    [Description("Clients (CIDR, or a single address) whose queries for outside names are forwarded; everyone else gets REFUSED, so minilb is never an open resolver. Default when absent: loopback, the private ranges of RFC 1918 and RFC 4193 and link-local (127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7, 169.254.0.0/16, fe80::/10). Add 100.64.0.0/10 for clients behind CGNAT-range VPNs such as Tailscale.")]
    public List<string>? AllowFrom { get; set; }

    [Description("Milliseconds to wait for one upstream before trying the next; when all of them fail the client gets SERVFAIL.")]
    [Default(DefaultTimeoutMilliseconds)]
    [Range(100, 30000)]
    public int TimeoutMilliseconds { get; set; } = DefaultTimeoutMilliseconds;

    [Description("Forwarded queries waiting for an upstream at once; beyond this a query gets SERVFAIL at once, so a flood cannot tie up sockets and memory.")]
    [Default(DefaultMaxInFlight)]
    [Range(1, 10000)]
    public int MaxInFlight { get; set; } = DefaultMaxInFlight;
}
