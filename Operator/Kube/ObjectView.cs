using k8s;
using k8s.Models;

namespace MiniLb.Operator.Kube;

/// <summary>
/// An immutable projection of an API object: its identity and version plus, in subclasses, only what minilb reads.
/// It passes for a Kubernetes object (informers key it, events name it), but its metadata is rebuilt on demand from
/// the few fields kept and cannot be changed.
/// </summary>
public abstract record ObjectView(string? Namespace, string Name, string? Uid, string? ResourceVersion) : IKubernetesObject<V1ObjectMeta>
{
    /// <summary>The kind this is a view of (apiVersion and kind of events that name it).</summary>
    public abstract ResourceKind ResourceKind { get; }

    /// <summary>
    /// <c>namespace/name</c>, or <c>name</c> for cluster-scoped kinds, as <see cref="Informer{T}.KeyOf"/>. Made once,
    /// so the informer's cache and the indexes built on it share one string per object.
    /// </summary>
    public string Key { get; } = string.IsNullOrEmpty(Namespace) ? Name : $"{Namespace}/{Name}";

    string IKubernetesObject.ApiVersion { get => ResourceKind.ApiVersion; set => throw ReadOnly(); }

    string IKubernetesObject.Kind { get => ResourceKind.Kind; set => throw ReadOnly(); }

    V1ObjectMeta IMetadata<V1ObjectMeta>.Metadata
    {
        get => new() { Name = Name, NamespaceProperty = Namespace, Uid = Uid, ResourceVersion = ResourceVersion };
        set => throw ReadOnly();
    }

    private NotSupportedException ReadOnly() => new($"a {ResourceKind.Kind} view is read-only");
}
