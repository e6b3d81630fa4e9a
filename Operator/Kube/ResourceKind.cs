using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using k8s.Models;

namespace MiniLb.Operator.Kube;

/// <summary>What the API server calls a kind: its group, version, plural (the URL segment) and whether it lives in namespaces.</summary>
public sealed record ResourceKind(string Group, string Version, string Plural, string Kind, bool Namespaced)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>
    /// An add-on API the cluster may never install (the Gateway API's kinds). While the server does not serve it, it is
    /// looked for every <see cref="InformerOptions.DiscoveryInterval"/>, not with the quick backoff that finds a CRD
    /// installed with minilb (MiniLbConfig) within seconds: an idle replica must not keep asking for what is not there.
    /// </summary>
    public bool Optional { get; init; }

    public override string ToString() => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>The kind of a C# model carrying k8s' <see cref="KubernetesEntityAttribute"/> (built-in models and our entities).</summary>
    public static ResourceKind Of([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.None)] Type type, bool namespaced)
    {
        var entity = type.GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{type.Name} has no [KubernetesEntity] attribute", nameof(type));
        var plural = string.IsNullOrEmpty(entity.PluralName) ? entity.Kind.ToLowerInvariant() + "s" : entity.PluralName;
        return new ResourceKind(entity.Group ?? "", entity.ApiVersion, plural, entity.Kind, namespaced);
    }
}

/// <summary>The kinds minilb watches.</summary>
public static class Kinds
{
    public const string GatewayGroup = "gateway.networking.k8s.io";

    public static readonly ResourceKind Service = ResourceKind.Of(typeof(V1Service), namespaced: true);
    public static readonly ResourceKind EndpointSlice = ResourceKind.Of(typeof(V1EndpointSlice), namespaced: true);
    public static readonly ResourceKind Node = ResourceKind.Of(typeof(V1Node), namespaced: false);
    public static readonly ResourceKind Ingress = ResourceKind.Of(typeof(V1Ingress), namespaced: true);
    public static readonly ResourceKind Gateway = new(GatewayGroup, "v1", "gateways", "Gateway", Namespaced: true) { Optional = true };
    public static readonly ResourceKind HttpRoute = new(GatewayGroup, "v1", "httproutes", "HTTPRoute", Namespaced: true) { Optional = true };
    public static readonly ResourceKind GrpcRoute = new(GatewayGroup, "v1", "grpcroutes", "GRPCRoute", Namespaced: true) { Optional = true };
    public static readonly ResourceKind TlsRoute = new(GatewayGroup, "v1alpha2", "tlsroutes", "TLSRoute", Namespaced: true) { Optional = true };
}
