using k8s.Models;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests;

/// <summary>Kubernetes objects for tests, shaped as the API server returns them.</summary>
internal static class TestObjects
{
    public static V1Service Service(string ns, string name, string type = "LoadBalancer", string? loadBalancerClass = "minilb", string? hosts = null, params V1ServicePort[] ports) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = ns,
            Annotations = hosts is null ? null : new Dictionary<string, string> { [ServedService.HostAnnotation] = hosts },
        },
        Spec = new V1ServiceSpec { Type = type, LoadBalancerClass = loadBalancerClass, Ports = ports.Length == 0 ? [Port("http", 80)] : ports },
    };

    public static V1ServicePort Port(string? name, int port, string protocol = "TCP") => new() { Name = name, Port = port, Protocol = protocol };

    public static V1EndpointSlice Slice(string ns, string service, string name, string family, IEnumerable<V1Endpoint> endpoints, params Discoveryv1EndpointPort[] ports) => new()
    {
        ApiVersion = "discovery.k8s.io/v1",
        Kind = "EndpointSlice",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service } },
        AddressType = family,
        Endpoints = endpoints.ToList(),
        Ports = ports.Length == 0 ? [SlicePort("http", 8080)] : ports,
    };

    public static Discoveryv1EndpointPort SlicePort(string? name, int port, string protocol = "TCP") => new() { Name = name, Port = port, Protocol = protocol };

    public static V1Endpoint Endpoint(string address, bool? ready = true, bool? serving = null, bool? terminating = null) => new()
    {
        Addresses = [address],
        Conditions = new V1EndpointConditions { Ready = ready, Serving = serving, Terminating = terminating },
    };

    public static IEnumerable<V1Endpoint> Ready(params string[] addresses) => addresses.Select(a => Endpoint(a));

    public static V1Node Node(string name, string[] internalIps, string[] podCidrs) => new()
    {
        ApiVersion = "v1",
        Kind = "Node",
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1NodeSpec { PodCIDRs = podCidrs.Length == 0 ? null : podCidrs, PodCIDR = podCidrs.FirstOrDefault() },
        Status = new V1NodeStatus
        {
            Addresses = [.. internalIps.Select(ip => new V1NodeAddress { Type = "InternalIP", Address = ip }), new V1NodeAddress { Type = "Hostname", Address = name }],
        },
    };

    public static V1Ingress Ingress(string ns, string name, string[] hosts, params string[] statusHostnames) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "Ingress",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1IngressSpec { Rules = hosts.Select(h => new V1IngressRule { Host = h }).ToList() },
        Status = new V1IngressStatus
        {
            LoadBalancer = new V1IngressLoadBalancerStatus { Ingress = statusHostnames.Select(h => new V1IngressLoadBalancerIngress { Hostname = h }).ToList() },
        },
    };

    public static V1Gateway Gateway(string ns, string name, params string[] addresses) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Status = new GatewayStatus { Addresses = addresses.Select(a => new GatewayStatusAddress { Type = "Hostname", Value = a }).ToList() },
    };

    public static T Route<T>(string ns, string name, string gatewayNamespace, string gateway, params string[] hostnames) where T : GatewayRoute, new() => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new GatewayRouteSpec
        {
            ParentRefs = [new ParentReference { Name = gateway, Namespace = gatewayNamespace }],
            Hostnames = hostnames,
        },
    };

    /// <summary>The repository's sample snapshot (what <c>make demo</c> serves).</summary>
    public static string SampleSnapshot => Path.Combine(RepositoryRoot, "config", "samples", "cluster-snapshot.yaml");

    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MiniLb.Operator.sln")))
                directory = directory.Parent;
            return directory?.FullName ?? throw new InvalidOperationException("MiniLb.Operator.sln not found above the test directory");
        }
    }
}
