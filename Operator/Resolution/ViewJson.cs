using System.Text.Json.Serialization;
using k8s.Models;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Resolution;

// The JSON shapes the informers read: only the fields the views keep, so System.Text.Json skips the rest of each
// object (a Node's images, an EndpointSlice's targetRefs, managedFields) without building it. Source-generated, so
// NativeAOT needs no reflection and no KubernetesClient model for these kinds.

public sealed class ServiceJson
{
    [JsonPropertyName("metadata")] public ServiceMetaJson? Metadata { get; set; }
    [JsonPropertyName("spec")] public ServiceSpecJson? Spec { get; set; }
    [JsonPropertyName("status")] public ServiceStatusJson? Status { get; set; }

    public ServiceView ToView() => new(Names.Intern(Metadata?.Namespace), Metadata?.Name ?? "", Metadata?.Uid, Metadata?.ResourceVersion)
    {
        Type = Names.Intern(Spec?.Type),
        LoadBalancerClass = Names.Intern(Spec?.LoadBalancerClass),
        Aliases = ServiceView.AliasesOf(Metadata?.Annotations),
        Exclude = AnnotationFlag.Of(Metadata?.Annotations, ServedService.ExcludeAnnotation),
        Serve = AnnotationFlag.Of(Metadata?.Annotations, ServedService.ServeAnnotation),
        Ports = [.. (Spec?.Ports ?? []).Select(p => new ServicePortView(Names.Intern(p.Name), Names.Intern(p.Protocol), p.Port ?? 0, Names.Intern(p.TargetPort)))],
        Ingress = [.. Status?.LoadBalancer?.Ingress ?? []],
    };
}

/// <summary>A Service's metadata: of its annotations, minilb's own only (helm's and kubectl's are skipped unread).</summary>
public sealed class ServiceMetaJson : ObjectMetaJson
{
    [JsonPropertyName("annotations"), JsonConverter(typeof(ServiceAnnotationsJson))]
    public Dictionary<string, string>? Annotations { get; set; }
}

public sealed class ServiceAnnotationsJson() : KeptKeysConverter(ServedService.HostAnnotation, ServedService.ExcludeAnnotation, ServedService.ServeAnnotation);

public sealed class ServiceSpecJson
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("loadBalancerClass")] public string? LoadBalancerClass { get; set; }
    [JsonPropertyName("ports")] public List<ServicePortJson>? Ports { get; set; }
}

public sealed class ServicePortJson
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("protocol")] public string? Protocol { get; set; }
    [JsonPropertyName("port")] public int? Port { get; set; }
    /// <summary>A number or a port name, as text.</summary>
    [JsonPropertyName("targetPort"), JsonConverter(typeof(IntOrStringTextConverter))] public string? TargetPort { get; set; }
}

public sealed class ServiceStatusJson
{
    [JsonPropertyName("loadBalancer")] public LoadBalancerStatusJson? LoadBalancer { get; set; }
}

public sealed class LoadBalancerStatusJson
{
    [JsonPropertyName("ingress")] public List<LoadBalancerIngressJson>? Ingress { get; set; }
}

/// <summary>One <c>status.loadBalancer.ingress</c> entry, all of it: minilb rewrites the list and must keep other entries whole.</summary>
public sealed class LoadBalancerIngressJson
{
    [JsonPropertyName("hostname")] public string? Hostname { get; set; }
    [JsonPropertyName("ip")] public string? Ip { get; set; }
    [JsonPropertyName("ipMode")] public string? IpMode { get; set; }
    [JsonPropertyName("ports")] public List<PortStatusJson>? Ports { get; set; }
}

public sealed class PortStatusJson
{
    [JsonPropertyName("port")] public int? Port { get; set; }
    [JsonPropertyName("protocol")] public string? Protocol { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
}

/// <summary>An EndpointSlice's metadata: of its labels, the owning Service's name only.</summary>
public sealed class SliceMetaJson : ObjectMetaJson
{
    [JsonPropertyName("labels"), JsonConverter(typeof(SliceLabelsJson))]
    public Dictionary<string, string>? Labels { get; set; }
}

public sealed class SliceLabelsJson() : KeptKeysConverter(ServiceRecords.ServiceNameLabel);

public sealed class EndpointSliceJson
{
    [JsonPropertyName("metadata")] public SliceMetaJson? Metadata { get; set; }
    [JsonPropertyName("addressType")] public string? AddressType { get; set; }
    [JsonPropertyName("endpoints")] public List<EndpointJson>? Endpoints { get; set; }
    [JsonPropertyName("ports")] public List<EndpointPortJson>? Ports { get; set; }

    public SliceView ToView()
    {
        var serviceName = Metadata?.Labels?.TryGetValue(ServiceRecords.ServiceNameLabel, out var label) == true && !string.IsNullOrEmpty(label) ? label : null;
        // No uid: nothing refers to a slice (no events, no status), and at 10,000 slices it is 1 MB.
        return new(Names.Intern(Metadata?.Namespace), Metadata?.Name ?? "", null, Metadata?.ResourceVersion)
        {
            ServiceName = serviceName,
            AddressType = Names.Intern(AddressType),
            // A slice no Service claims cannot reach DNS: its identity is all that is kept.
            Endpoints = serviceName is null ? [] : [.. (Endpoints ?? []).Select(e => new EndpointView(
                [.. e.Addresses ?? []], e.Conditions?.Ready, e.Conditions?.Serving, e.Conditions?.Terminating, Names.Intern(e.NodeName), e.Hostname))],
            Ports = [.. (Ports ?? []).Select(p => new SlicePortView(Names.Intern(p.Name), Names.Intern(p.Protocol), p.Port))],
        };
    }
}

public sealed class EndpointJson
{
    [JsonPropertyName("addresses")] public List<string>? Addresses { get; set; }
    [JsonPropertyName("conditions")] public EndpointConditionsJson? Conditions { get; set; }
    [JsonPropertyName("nodeName")] public string? NodeName { get; set; }
    [JsonPropertyName("hostname")] public string? Hostname { get; set; }
}

public sealed class EndpointConditionsJson
{
    [JsonPropertyName("ready")] public bool? Ready { get; set; }
    [JsonPropertyName("serving")] public bool? Serving { get; set; }
    [JsonPropertyName("terminating")] public bool? Terminating { get; set; }
}

public sealed class EndpointPortJson
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("protocol")] public string? Protocol { get; set; }
    [JsonPropertyName("port")] public int? Port { get; set; }
}

/// <summary>
/// A Node as routes and liveness read it: podCIDRs, addresses and the Ready condition. Kept as a trimmed
/// <see cref="V1Node"/> (everything else null) because the route plan and the CLI take that type.
/// </summary>
public sealed class NodeJson
{
    [JsonPropertyName("metadata")] public ObjectMetaJson? Metadata { get; set; }
    [JsonPropertyName("spec")] public NodeSpecJson? Spec { get; set; }
    [JsonPropertyName("status")] public NodeStatusJson? Status { get; set; }

    public V1Node ToNode() => new()
    {
        ApiVersion = "v1",
        Kind = "Node",
        Metadata = new V1ObjectMeta { Name = Metadata?.Name, Uid = Metadata?.Uid, ResourceVersion = Metadata?.ResourceVersion },
        Spec = new V1NodeSpec { PodCIDR = Spec?.PodCidr, PodCIDRs = Spec?.PodCidrs },
        Status = new V1NodeStatus
        {
            Addresses = Status?.Addresses?.Select(a => new V1NodeAddress { Type = Names.Intern(a.Type), Address = a.Address }).ToList(),
            Conditions = Status?.Conditions?.Where(c => c.Type == "Ready")
                .Select(c => new V1NodeCondition { Type = "Ready", Status = c.Status, Reason = c.Reason }).ToList(),
        },
    };
}

public sealed class NodeSpecJson
{
    [JsonPropertyName("podCIDR")] public string? PodCidr { get; set; }
    [JsonPropertyName("podCIDRs")] public List<string>? PodCidrs { get; set; }
}

public sealed class NodeStatusJson
{
    [JsonPropertyName("addresses")] public List<NodeAddressJson>? Addresses { get; set; }
    [JsonPropertyName("conditions")] public List<NodeConditionJson>? Conditions { get; set; }
}

public sealed class NodeAddressJson
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("address")] public string? Address { get; set; }
}

public sealed class NodeConditionJson
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("reason")] public string? Reason { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ListJson<ServiceJson>))]
[JsonSerializable(typeof(ListJson<EndpointSliceJson>))]
[JsonSerializable(typeof(ListJson<NodeJson>))]
[JsonSerializable(typeof(ServiceStatusJson))]
[JsonSerializable(typeof(ServiceJson))]
[JsonSerializable(typeof(EndpointSliceJson))]
[JsonSerializable(typeof(NodeJson))]
public sealed partial class ViewJson : JsonSerializerContext
{
    /// <summary>A KubernetesClient model read into one of these shapes, so there is one projection per kind.</summary>
    public static T Project<T>(object model, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> shape) =>
        System.Text.Json.JsonSerializer.Deserialize(k8s.KubernetesJson.Serialize(model), shape)
        ?? throw new ArgumentException($"{model.GetType().Name} serialised to null", nameof(model));
}
