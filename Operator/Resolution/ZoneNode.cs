using System.Collections.Immutable;
using System.Net;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>One SRV answer: the port clients really reach (the endpoint's port) and a target name that resolves.</summary>
public sealed record SrvTarget(ushort Port, DomainName Target);

/// <summary>
/// The data of one name. A name with no data (an empty non-terminal, or a Service without ready endpoints)
/// still exists: it answers NODATA, never NXDOMAIN.
/// </summary>
public sealed record ZoneNode(ImmutableArray<IPAddress> V4, ImmutableArray<IPAddress> V6, ImmutableArray<SrvTarget> Srv)
{
    public static ZoneNode Empty { get; } = new([], [], []);

    public static ZoneNode Addresses(IEnumerable<IPAddress> addresses)
    {
        var distinct = addresses.Distinct().ToArray();
        return new(
            [.. distinct.Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)],
            [.. distinct.Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)],
            []);
    }

    public bool HasData => V4.Length > 0 || V6.Length > 0 || Srv.Length > 0;

    /// <summary>Same answers (records compare by content, so an unchanged republish keeps the SOA serial).</summary>
    public bool SameAs(ZoneNode other) =>
        V4.SequenceEqual(other.V4) && V6.SequenceEqual(other.V6) && Srv.SequenceEqual(other.Srv);
}
