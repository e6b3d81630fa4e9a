using System.Text.Json.Serialization;

namespace MiniLb.Operator.Entities;

/// <summary>The standard metav1 Condition shape, with its upstream validation, so `kubectl wait --for=condition=Ready` works.</summary>
public sealed record Condition
{
    public const string True = "True";
    public const string False = "False";
    public const string Unknown = "Unknown";

    [Description("Type of condition in CamelCase: Ready, DnsServing or RoutesPublished.")]
    [Required]
    [Length(maximum: 316)]
    [Pattern(@"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")]
    public required string Type { get; init; }

    [Description("Status of the condition: True, False or Unknown.")]
    [Required]
    [EnumValues(True, False, Unknown)]
    public required string Status { get; init; }

    [Description("The metadata.generation the condition was set for.")]
    [Range(0, long.MaxValue)]
    public long? ObservedGeneration { get; init; }

    [Description("When the condition last changed from one status to another.")]
    [Required]
    [Format("date-time")]
    [JsonConverter(typeof(KubernetesTimeConverter))]
    public required DateTimeOffset LastTransitionTime { get; init; }

    [Description("A programmatic identifier in CamelCase for the last transition.")]
    [Required]
    [Length(1, 1024)]
    [Pattern(@"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")]
    public required string Reason { get; init; }

    [Description("A human readable message with details about the transition.")]
    [Required]
    [Length(maximum: 32768)]
    public required string Message { get; init; }
}
