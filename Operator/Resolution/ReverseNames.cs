using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// Names in <c>in-addr.arpa</c> and <c>ip6.arpa</c> (RFC 1035 §3.5, RFC 3596 §2.5): the PTR owner of an address and
/// the reverse zone apex of a podCIDR. Labels come from fixed tables, so names of one zone share their strings.
/// </summary>
public static class ReverseNames
{
    private static readonly string[] Octets = [.. Enumerable.Range(0, 256).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    private static readonly string[] Nibbles = [.. "0123456789abcdef".Select(c => c.ToString())];

    public static DomainName InAddrArpa { get; } = new(["in-addr", "arpa"]);
    public static DomainName Ip6Arpa { get; } = new(["ip6", "arpa"]);

    /// <summary><c>5.1.244.10.in-addr.arpa</c> for 10.244.1.5; 32 nibbles under <c>ip6.arpa</c> for IPv6.</summary>
    public static DomainName PointerOf(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return address.AddressFamily == AddressFamily.InterNetwork ? Prefix(bytes, 4) : Prefix(bytes, 32);
    }

    /// <summary>
    /// The apex of the reverse zone that covers a podCIDR: the prefix rounded down to a label boundary (an octet for
    /// IPv4, a nibble for IPv6), so a /24 gives <c>0.244.10.in-addr.arpa</c> and a /20 or /23 the covering /16
    /// (<c>244.10.in-addr.arpa</c>), a /64 16 nibbles and a /62 15. Classless delegation (RFC 2317) would need the
    /// router to follow CNAMEs; a covering zone needs nothing. Null for text that is not a CIDR and for a prefix
    /// shorter than one label (it would claim all of <c>in-addr.arpa</c>).
    /// </summary>
    public static DomainName? ApexOf(string? cidr)
    {
        if (cidr is null || !IPNetwork.TryParse(cidr.Trim(), out var network))
            return null;
        var bytes = network.BaseAddress.GetAddressBytes();
        var labels = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? network.PrefixLength / 8 : network.PrefixLength / 4;
        return labels == 0 ? null : Prefix(bytes, labels);
    }

    /// <summary>The first <paramref name="labels"/> octets (IPv4) or nibbles (IPv6) of the address, reversed, under the arpa name.</summary>
    private static DomainName Prefix(byte[] bytes, int labels)
    {
        var v4 = bytes.Length == 4;
        var result = new string[labels + 2];
        for (var i = 0; i < labels; i++)
            result[labels - 1 - i] = v4 ? Octets[bytes[i]] : Nibbles[(bytes[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xF];
        result[labels] = v4 ? "in-addr" : "ip6";
        result[labels + 1] = "arpa";
        return new DomainName(result);
    }
}
