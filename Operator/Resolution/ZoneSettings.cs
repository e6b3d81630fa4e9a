using System.Net;
using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>What the zone is called and how its answers look; shared by snapshot mode and the operator.</summary>
public sealed record ZoneSettings
{
    public const string DefaultDomain = "minilb";
    public const int DefaultTtl = 5;
    public const string DefaultLoadBalancerClass = "minilb";

    /// <summary>The zone apex, e.g. <c>minilb</c>; Service names are <c>&lt;svc&gt;.&lt;ns&gt;.&lt;domain&gt;</c>.</summary>
    public string Domain { get; init; } = DefaultDomain;

    /// <summary>TTL of every answer, and the SOA TTL and MINIMUM (negative-cache TTL, RFC 2308 §5).</summary>
    public int Ttl { get; init; } = DefaultTtl;

    /// <summary><c>spec.loadBalancerClass</c> a Service must carry to be served.</summary>
    public string LoadBalancerClass { get; init; } = DefaultLoadBalancerClass;

    /// <summary>Addresses of <c>ns1.&lt;domain&gt;</c>, given as glue with the apex NS; empty when unknown.</summary>
    public IReadOnlyList<IPAddress> NameServerAddresses { get; init; } = [];

    public DomainName Apex => DomainName.Parse(Domain.TrimEnd('.'));

    public DomainName NameServer => DomainName.Parse("ns1." + Domain.TrimEnd('.'));

    public DomainName Hostmaster => DomainName.Parse("hostmaster." + Domain.TrimEnd('.'));
}
