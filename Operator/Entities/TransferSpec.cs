namespace MiniLb.Operator.Entities;

/// <summary>Zone transfer (AXFR) to a secondary on the router, and NOTIFY when the zone changes. Off unless allowFrom lists a client.</summary>
public sealed class TransferSpec
{
    /// <summary>More would be a misconfiguration, not a home network; the bound keeps the per-transfer check cheap.</summary>
    public const int MaxEntries = 32;

    [Description("Clients (CIDRs, e.g. '192.168.1.1/32', 'fd00::/64') allowed to transfer the zone with AXFR or IXFR over TCP. Empty (the default): every transfer is refused. Up to 32 entries.")]
    public List<string>? AllowFrom { get; set; }

    [Description("Secondaries sent a DNS NOTIFY (RFC 1996) over UDP when the zone changes, as 'ip:port' or '[ipv6]:port', e.g. '192.168.1.1:53'. At most one NOTIFY a second per secondary, retried until it answers. Up to 32 entries.")]
    public List<string>? Notify { get; set; }
}
