using System.Collections.Immutable;
using k8s.Models;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Resolution;

/// <summary>What minilb reads of a Service: what decides serving (type, class, the exclude/serve annotations), the name, the aliases, the ports, and the load balancer status it writes.</summary>
public sealed record ServiceView(string? Namespace, string Name, string? Uid, string? ResourceVersion) : ObjectView(Namespace, Name, Uid, ResourceVersion)
{
    public override ResourceKind ResourceKind => Kinds.Service;

    public string? Type { get; init; }
    public string? LoadBalancerClass { get; init; }

    /// <summary>The normalised hostnames of the <see cref="ServedService.HostAnnotation"/> annotation.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The <see cref="ServedService.ExcludeAnnotation"/> value as written (null: unset); only this annotation and the next are kept.</summary>
    public string? Exclude { get; init; }

    /// <summary>The <see cref="ServedService.ServeAnnotation"/> value as written (null: unset).</summary>
    public string? Serve { get; init; }

    public ImmutableArray<ServicePortView> Ports { get; init; } = [];

    /// <summary><c>status.loadBalancer.ingress</c> as the API server holds it (entries of other load balancers included).</summary>
    public ImmutableArray<LoadBalancerIngressJson> Ingress { get; init; } = [];

    /// <summary>The projection of a KubernetesClient model (tests, and callers holding models), by the same JSON shape the informer reads.</summary>
    public static ServiceView From(V1Service service) => ViewJson.Project(service, ViewJson.Default.ServiceJson).ToView();

    internal static IReadOnlyList<string> AliasesOf(IDictionary<string, string>? annotations) =>
        annotations is not null && annotations.TryGetValue(ServedService.HostAnnotation, out var value) && value is not null
            ? Hostnames.SplitList(value)
            : [];
}

/// <summary>A Service port; <see cref="TargetPort"/> as written (a number or a port name).</summary>
public sealed record ServicePortView(string? Name, string? Protocol, int Port, string? TargetPort);

/// <summary>
/// What minilb reads of an EndpointSlice: the Service it belongs to, the address family, per endpoint the addresses,
/// conditions, node and hostname, and the ports. targetRef, zone, hints, labels and owners are dropped at the door.
/// </summary>
public sealed record SliceView(string? Namespace, string Name, string? Uid, string? ResourceVersion) : ObjectView(Namespace, Name, Uid, ResourceVersion)
{
    public override ResourceKind ResourceKind => Kinds.EndpointSlice;

    /// <summary>The <c>kubernetes.io/service-name</c> label; a slice without one cannot matter and keeps no endpoints.</summary>
    public string? ServiceName { get; init; }
    public string? AddressType { get; init; }
    public ImmutableArray<EndpointView> Endpoints { get; init; } = [];
    public ImmutableArray<SlicePortView> Ports { get; init; } = [];

    /// <inheritdoc cref="ServiceView.From"/>
    public static SliceView From(V1EndpointSlice slice) => ViewJson.Project(slice, ViewJson.Default.EndpointSliceJson).ToView();
}

/// <summary>One endpoint of a slice. Conditions as written: null means unset (ready and serving count as true then).</summary>
public sealed record EndpointView(ImmutableArray<string> Addresses, bool? Ready, bool? Serving, bool? Terminating, string? NodeName, string? Hostname)
{
    /// <summary>Ready (true or unset), serving (not false) and not terminating — what kube-proxy would send traffic to.</summary>
    public bool IsReady => Ready != false && Serving != false && Terminating != true;
}

public sealed record SlicePortView(string? Name, string? Protocol, int? Port);

/// <summary>
/// Strings that repeat across thousands of objects (node names, protocols, port names, address types) kept once,
/// not once per endpoint. Bounded by what a cluster names, which is small.
/// </summary>
internal static class Names
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> pool = new(StringComparer.Ordinal);

    public static string? Intern(string? value) =>
        value is null ? null : value.Length == 0 ? "" : pool.Count < 65536 ? pool.GetOrAdd(value, value) : value;
}
