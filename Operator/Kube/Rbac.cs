using System.Diagnostics.CodeAnalysis;

namespace MiniLb.Operator.Kube;

[Flags]
public enum RbacVerb
{
    None = 0,
    Get = 1,
    List = 2,
    Watch = 4,
    Create = 8,
    Update = 16,
    Patch = 32,
    Delete = 64,
}

/// <summary>
/// Where a permission applies. Cluster: a ClusterRole (any namespace, cluster-scoped kinds).
/// OperatorNamespace: a Role in the namespace the operator runs in (its leader-election Lease).
/// </summary>
public enum RbacScope
{
    Cluster,
    OperatorNamespace,
}

/// <summary>
/// The code on this class calls these verbs on the kind of <see cref="EntityType"/> (a k8s model or one of our entities,
/// read through its [KubernetesEntity] attribute), as KubeOps' <c>[EntityRbac]</c>. The generated RBAC is the union of these.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class EntityRbacAttribute(Type entityType, RbacVerb verbs) : Attribute
{
    public Type EntityType { get; } = entityType;
    public RbacVerb Verbs { get; } = verbs;
    /// <summary>A subresource such as `status`; the rule then names `plural/status`.</summary>
    public string? Subresource { get; init; }
    public RbacScope Scope { get; init; } = RbacScope.Cluster;
}

/// <summary>A permission on a kind that has no C# type here (Gateway API kinds), as KubeOps' <c>[GenericRbac]</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class GenericRbacAttribute(string group, string resource, RbacVerb verbs) : Attribute
{
    public string Group { get; } = group;
    public string Resource { get; } = resource;
    public RbacVerb Verbs { get; } = verbs;
    public RbacScope Scope { get; init; } = RbacScope.Cluster;
}
