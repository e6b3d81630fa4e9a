using System.Text.Json;
using k8s;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Controllers;

/// <summary>
/// The application's own kind, declared once for the framework: its <see cref="ResourceKind"/>, its LIST/WATCH and its
/// status patch, with the RBAC they need. `Kube/` stays generic and knows nothing of MiniLbConfig.
/// </summary>
[EntityRbac(typeof(MiniLbConfig), RbacVerb.List | RbacVerb.Watch)]
[EntityRbac(typeof(MiniLbConfig), RbacVerb.Patch, Subresource = "status")]
public static class MiniLbConfigKind
{
    public static readonly ResourceKind Kind = ResourceKind.Of(typeof(MiniLbConfig), namespaced: false);

    public static ListWatch<MiniLbConfig> ListWatch(IKubernetes client) =>
        ListWatches.Custom(client, Kind, EntityJson.Default.MiniLbConfig);

    /// <summary>Merge-patches the status from what it is to <paramref name="desired"/>; nothing is sent when they are equal.</summary>
    public static Task<bool> PatchStatusAsync(this StatusWriter status, MiniLbConfig current, MiniLbConfigStatus desired, CancellationToken ct) =>
        status.PatchClusterCustomStatusAsync(Kind, current.Metadata.Name,
            current.Status is null ? null : JsonSerializer.SerializeToNode(current.Status, EntityJson.Default.MiniLbConfigStatus),
            JsonSerializer.SerializeToNode(desired, EntityJson.Default.MiniLbConfigStatus), ct);
}
