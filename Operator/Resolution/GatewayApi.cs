using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Resolution;

// The few Gateway API fields minilb reads. KubernetesClient has no Gateway API models; these types let its
// YAML/JSON readers fill them like any k8s.Models type (unknown fields are ignored).

/// <summary>gateway.networking.k8s.io Gateway: only <c>status.addresses</c> matters to minilb.</summary>
[KubernetesEntity(Group = GatewayApi.Group, ApiVersion = "v1", Kind = "Gateway", PluralName = "gateways")]
public sealed class V1Gateway : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")] public string ApiVersion { get; set; } = GatewayApi.Group + "/v1";
    [JsonPropertyName("kind")] public string Kind { get; set; } = "Gateway";
    [JsonPropertyName("metadata")] public V1ObjectMeta Metadata { get; set; } = new();
    [JsonPropertyName("status")] public GatewayStatus? Status { get; set; }
}

public sealed class GatewayStatus
{
    [JsonPropertyName("addresses")] public IList<GatewayStatusAddress>? Addresses { get; set; }
}

public sealed class GatewayStatusAddress
{
    /// <summary><c>IPAddress</c> or <c>Hostname</c>; minilb's own Gateways carry the served hostname.</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("value")] public string? Value { get; set; }
}

/// <summary>What HTTPRoute, GRPCRoute and TLSRoute share: the parent Gateways and the hostnames.</summary>
public abstract class GatewayRoute : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")] public string ApiVersion { get; set; } = GatewayApi.Group + "/v1";
    [JsonPropertyName("kind")] public string Kind { get; set; } = "";
    [JsonPropertyName("metadata")] public V1ObjectMeta Metadata { get; set; } = new();
    [JsonPropertyName("spec")] public GatewayRouteSpec? Spec { get; set; }
}

public sealed class GatewayRouteSpec
{
    [JsonPropertyName("parentRefs")] public IList<ParentReference>? ParentRefs { get; set; }
    [JsonPropertyName("hostnames")] public IList<string>? Hostnames { get; set; }
}

public sealed class ParentReference
{
    [JsonPropertyName("group")] public string? Group { get; set; }
    [JsonPropertyName("kind")] public string? Kind { get; set; }
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("sectionName")] public string? SectionName { get; set; }

    /// <summary>A parent is a Gateway unless group/kind say otherwise (the API's defaults).</summary>
    public bool IsGateway =>
        (Group is null || Group == GatewayApi.Group) && (Kind is null || Kind == "Gateway");
}

[KubernetesEntity(Group = GatewayApi.Group, ApiVersion = "v1", Kind = "HTTPRoute", PluralName = "httproutes")]
public sealed class V1HttpRoute : GatewayRoute
{
    public V1HttpRoute() => Kind = "HTTPRoute";
}

[KubernetesEntity(Group = GatewayApi.Group, ApiVersion = "v1", Kind = "GRPCRoute", PluralName = "grpcroutes")]
public sealed class V1GrpcRoute : GatewayRoute
{
    public V1GrpcRoute() => Kind = "GRPCRoute";
}

[KubernetesEntity(Group = GatewayApi.Group, ApiVersion = "v1alpha2", Kind = "TLSRoute", PluralName = "tlsroutes")]
public sealed class V1Alpha2TlsRoute : GatewayRoute
{
    public V1Alpha2TlsRoute()
    {
        Kind = "TLSRoute";
        ApiVersion = GatewayApi.Group + "/v1alpha2";
    }
}

public static class GatewayApi
{
    public const string Group = "gateway.networking.k8s.io";
}
