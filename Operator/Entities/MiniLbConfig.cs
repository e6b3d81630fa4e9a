using System.Text.Json.Serialization;
using k8s.Models;

namespace MiniLb.Operator.Entities;

/// <summary>The operator's settings and the state it reports: one cluster-scoped object, normally named `default`.</summary>
[KubernetesEntity(Group = ApiGroup, ApiVersion = ApiVersionName, Kind = KindName, PluralName = Plural)]
[EntityScope(EntityScope.Cluster)]
[ShortNames("mlb")]
[Description("MiniLbConfig configures minilb, the DNS-based load balancer: the zone it serves for LoadBalancer Services, the answer TTL, the DNS listen address and the loadBalancerClass it handles. Its status lists the static routes (podCIDR via node InternalIP) the LAN router needs.")]
[GenericPrinterColumn("READY", ".status.conditions[?(@.type==\"Ready\")].status", "string", Order = 4)]
[GenericPrinterColumn("AGE", ".metadata.creationTimestamp", "date", Order = 5)]
public sealed class MiniLbConfig : CustomEntity<MiniLbConfigSpec, MiniLbConfigStatus>
{
    public const string ApiGroup = "minilb.io";
    public const string ApiVersionName = "v1alpha1";
    public const string KindName = "MiniLbConfig";
    public const string Plural = "minilbconfigs";

    /// <summary>The name the operator reads unless `--config` says otherwise.</summary>
    public const string DefaultName = "default";

    public MiniLbConfig()
    {
        ApiVersion = $"{ApiGroup}/{ApiVersionName}";
        Kind = KindName;
    }
}

public sealed class MiniLbConfigSpec
{
    public const string DefaultDomain = "minilb";
    public const int DefaultTtl = 5;
    public const string DefaultListen = ":53";
    public const string DefaultLoadBalancerClass = "minilb";

    /// <summary>A DNS subdomain (RFC 1123), the rule the schema and <c>LiveConfig.TryRead</c> (flags, clusters without the schema) share.</summary>
    public const string DomainPattern = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    [Description("DNS zone minilb is authoritative for. A LoadBalancer Service gets the hostname <service>.<namespace>.<domain>. Must be a DNS subdomain (RFC 1123): lowercase labels of letters, digits and '-', separated by dots.")]
    [Default(DefaultDomain)]
    [Length(1, 253)]
    [Pattern(DomainPattern)]
    [PrinterColumn("DOMAIN", Order = 0)]
    public string Domain { get; set; } = DefaultDomain;

    [Description("Time to live, in seconds, of every answer. Short, so clients soon see pods that came or went.")]
    [Default(DefaultTtl)]
    [Range(1, 3600)]
    [PrinterColumn("TTL", Order = 1)]
    public int Ttl { get; set; } = DefaultTtl;

    [Description("Address and port the DNS server listens on, UDP and TCP: 'host:port', ':port' (every address) or '[ipv6]:port', for example ':53', '0.0.0.0:53', '192.168.1.10:5353', '[::]:53'.")]
    [Default(DefaultListen)]
    [Pattern(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}$")]
    [PrinterColumn("LISTEN", Order = 2)]
    public string Listen { get; set; } = DefaultListen;

    [Description("spec.loadBalancerClass of the Services minilb serves. Services of type LoadBalancer with another class, or none, are left alone.")]
    [Default(DefaultLoadBalancerClass)]
    [Length(1, 253)]
    public string LoadBalancerClass { get; set; } = DefaultLoadBalancerClass;

    [Description("Node liveness: minilb connects to each node with served endpoints and stops answering with the pods of a node it cannot reach, within seconds instead of the 40-50 s Kubernetes takes to mark a powered-off node NotReady. A Service is never left without an address (fail open).")]
    public NodeLivenessSpec NodeLiveness { get; set; } = new();

    [Description("Zone transfer to a secondary on the router (AXFR/IXFR over TCP, RFC 5936) and NOTIFY when the zone changes (RFC 1996). Off unless allowFrom lists a client.")]
    public TransferSpec? Transfer { get; set; }

    [Description("Forwarding of names outside the zone to the LAN's resolvers, for allowed clients only, so minilb can be the LAN's DNS server when the router cannot forward one zone. Off unless upstreams are given.")]
    public ForwardingSpec? Forwarding { get; set; }
}

/// <summary>How minilb decides a node is unreachable. The defaults take a dead node out of DNS within 2.5 s.</summary>
public sealed class NodeLivenessSpec
{
    public const bool DefaultEnabled = true;
    public const int DefaultPort = 10250;
    public const int DefaultIntervalMilliseconds = 1000;
    public const int DefaultFailures = 2;

    [Description("Probe nodes and leave unreachable ones out of DNS answers. false: answer with every ready endpoint, as Kubernetes reports them.")]
    [Default(DefaultEnabled)]
    public bool Enabled { get; set; } = DefaultEnabled;

    [Description("TCP port connected to on each node's InternalIP. Any answer, a connection or a reset, means the node is up; only silence means it is not. Default: the kubelet's port.")]
    [Default(DefaultPort)]
    [Range(1, 65535)]
    public int Port { get; set; } = DefaultPort;

    [Description("Milliseconds between probes of a node. Each probe waits half of this for an answer.")]
    [Default(DefaultIntervalMilliseconds)]
    [Range(200, 60000)]
    public int IntervalMilliseconds { get; set; } = DefaultIntervalMilliseconds;

    [Description("Probes in a row without an answer before a node counts as unreachable. One answer makes it reachable again.")]
    [Default(DefaultFailures)]
    [Range(1, 10)]
    public int Failures { get; set; } = DefaultFailures;
}

public sealed class MiniLbConfigStatus
{
    [Description("The metadata.generation of the spec this status describes.")]
    public long? ObservedGeneration { get; set; }

    [Description("One static route per node: the LAN router sends each node's pod CIDR to that node's InternalIP.")]
    public List<NodeRoute>? Routes { get; set; }

    [Description("Reachable of routed nodes, e.g. '3/3'. A node counts as reachable unless node liveness found it unreachable.")]
    [PrinterColumn("ROUTES", Order = 3)]
    public string? ReachableNodes { get; set; }

    [Description("The routes as commands for a Linux router ('ip route add <podCIDR> via <InternalIP>'), ready to paste.")]
    public List<string>? Router { get; set; }

    [Description("The routes as a DHCP classless static route option (RFC 3442, option 121) in dnsmasq form, for routers that push routes to clients. Holds only the routes that fit in one option (255 octets, RFC 2132, with room for the default route); the DhcpOption121Complete condition names the rest, which clients reach through the router.")]
    public string? DhcpOption121 { get; set; }

    [Description("Ready: the configuration is in effect. DnsServing: the DNS server is listening. RoutesPublished: every node has a route. DhcpOption121Complete: dhcpOption121 carries every IPv4 route. NodesReachable: every node with served endpoints answers node liveness probes. ConfigSource: which configuration is in force, this MiniLbConfig (reason MiniLbConfig, naming the command-line flags it overrides) or the flags of `minilb run` (reason Flags, or Defaults when none were given).")]
    [ListMapKeys("type")]
    public List<Condition>? Conditions { get; set; }

    [Description("How many Services minilb answers for.")]
    public int? ServedServices { get; set; }

    [Description("How many ready endpoint addresses those Services have in total.")]
    public int? ServedEndpoints { get; set; }
}

/// <summary>One router entry: the node's pod CIDR is reached via the node's InternalIP.</summary>
public sealed record NodeRoute
{
    [Description("Name of the Node.")]
    [Required]
    public required string Node { get; init; }

    [Description("A pod CIDR of the node (spec.podCIDRs).")]
    [Required]
    [JsonPropertyName("podCIDR")]
    public required string PodCidr { get; init; }

    [Description("The node's InternalIP, the route's gateway.")]
    [Required]
    public required string Via { get; init; }

    [Description("What node liveness found: Reachable, Unreachable (its endpoints are left out of DNS answers) or NotProbed (no served endpoints on it, or liveness is off).")]
    [EnumValues(Reachabilities.Reachable, Reachabilities.Unreachable, Reachabilities.NotProbed)]
    public string? Reachability { get; init; }

    [Description("Since when the node has had this reachability.")]
    [Format("date-time")]
    [JsonConverter(typeof(KubernetesTimeConverter))]
    public DateTimeOffset? Since { get; init; }
}

/// <summary>The values of <see cref="NodeRoute.Reachability"/>.</summary>
public static class Reachabilities
{
    public const string Reachable = "Reachable";
    public const string Unreachable = "Unreachable";
    public const string NotProbed = "NotProbed";
}
