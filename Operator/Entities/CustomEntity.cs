using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Entities;

/// <summary>
/// A custom resource with a spec and a status, like KubeOps' <c>CustomKubernetesEntity&lt;TSpec, TStatus&gt;</c>.
/// A non-null <typeparamref name="TStatus"/> type means the CRD gets the status subresource.
/// </summary>
public abstract class CustomEntity<TSpec, TStatus> : IKubernetesObject<V1ObjectMeta>
    where TSpec : new()
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "";

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public TSpec Spec { get; set; } = new();

    [JsonPropertyName("status")]
    public TStatus? Status { get; set; }
}
