using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using k8s.Models;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Manifests;

/// <summary>One permission the code needs: verbs on a resource (`plural` or `plural/subresource`) of an API group.</summary>
public sealed record Permission(RbacScope Scope, string Group, string Resource, RbacVerb Verbs);

/// <summary>Turns the [EntityRbac]/[GenericRbac] attributes on the code into RBAC rules.</summary>
public static class RbacGenerator
{
    private static readonly RbacVerb[] VerbOrder =
        [RbacVerb.Get, RbacVerb.List, RbacVerb.Watch, RbacVerb.Create, RbacVerb.Update, RbacVerb.Patch, RbacVerb.Delete];

    /// <summary>The union of the permissions declared on <paramref name="types"/>, one per (scope, group, resource).</summary>
    public static IReadOnlyList<Permission> Collect(IEnumerable<Type> types)
    {
        var declared = types.SelectMany(Declared);
        return declared
            .GroupBy(p => (p.Scope, p.Group, p.Resource))
            .Select(g => new Permission(g.Key.Scope, g.Key.Group, g.Key.Resource, g.Aggregate(RbacVerb.None, (all, p) => all | p.Verbs)))
            .OrderBy(p => p.Scope).ThenBy(p => p.Group, StringComparer.Ordinal).ThenBy(p => p.Resource, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Rules for one scope; resources of a group that need the same verbs share a rule.</summary>
    public static List<V1PolicyRule> Rules(IEnumerable<Permission> permissions, RbacScope scope) => permissions
        .Where(p => p.Scope == scope)
        .GroupBy(p => (p.Group, p.Verbs))
        .OrderBy(g => g.Key.Group, StringComparer.Ordinal).ThenBy(g => g.Min(p => p.Resource), StringComparer.Ordinal)
        .Select(g => new V1PolicyRule
        {
            ApiGroups = [g.Key.Group],
            Resources = g.Select(p => p.Resource).Order(StringComparer.Ordinal).ToList(),
            Verbs = Verbs(g.Key.Verbs),
        })
        .ToList();

    public static List<string> Verbs(RbacVerb verbs) =>
        VerbOrder.Where(v => verbs.HasFlag(v)).Select(v => v.ToString().ToLowerInvariant()).ToList();

    private static IEnumerable<Permission> Declared(Type type)
    {
        foreach (var entity in type.GetCustomAttributes<EntityRbacAttribute>())
        {
            var kind = ResourceKind.Of(entity.EntityType, namespaced: true);
            var resource = entity.Subresource is null ? kind.Plural : $"{kind.Plural}/{entity.Subresource}";
            yield return new Permission(entity.Scope, kind.Group, resource, entity.Verbs);
        }
        foreach (var generic in type.GetCustomAttributes<GenericRbacAttribute>())
            yield return new Permission(generic.Scope, generic.Group, generic.Resource, generic.Verbs);
    }
}
