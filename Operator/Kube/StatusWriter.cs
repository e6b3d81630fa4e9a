using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

/// <summary>
/// Writes status through JSON merge patches on the `/status` subresource — never a PUT of the object, so nothing
/// else in it is overwritten — and only when the patch would change something. Only the leader writes.
/// </summary>
[EntityRbac(typeof(V1Service), RbacVerb.Patch, Subresource = "status")]
public sealed class StatusWriter(IKubernetes client, ILeadership leadership, ILogger<StatusWriter> log)
{
    public const string FieldManager = "minilb";

    /// <param name="desired">The whole status as it should be; fields it lacks are removed.</param>
    /// <returns>Whether a patch was sent.</returns>
    /// <param name="current">The part of the status the caller manages, as it is now (JSON).</param>
    /// <param name="desired">The same part as it should be; fields outside it are left alone by the merge patch.</param>
    public Task<bool> PatchServiceAsync(IKubernetesObject<V1ObjectMeta> service, JsonNode? current, JsonNode? desired, CancellationToken ct) =>
        PatchAsync("Service", ObjectKey.Of(service), current, desired,
            $"api/v1/namespaces/{Uri.EscapeDataString(service.Metadata.NamespaceProperty)}/services/{Uri.EscapeDataString(service.Metadata.Name)}/status", ct);

    /// <summary>The status of a cluster-scoped custom resource; the application says which kind (the caller declares its RBAC).</summary>
    /// <inheritdoc cref="PatchServiceAsync"/>
    public Task<bool> PatchClusterCustomStatusAsync(ResourceKind kind, string name, JsonNode? current, JsonNode? desired, CancellationToken ct) =>
        PatchAsync(kind.Kind, name, current, desired, $"apis/{kind.Group}/{kind.Version}/{kind.Plural}/{Uri.EscapeDataString(name)}/status", ct);

    /// <summary>The `{"status": …}` merge patch from one status to another, or null when they are equal.</summary>
    public static string? StatusPatch(JsonNode? current, JsonNode? desired) =>
        MergePatch.TryDiff(current, desired, out var patch) ? new JsonObject { ["status"] = patch }.ToJsonString() : null;

    /// <summary>
    /// The patch goes through the client's HTTP pipeline as text and its answer, the whole object, is not parsed
    /// (<see cref="JsonListWatch.WriteAsync"/>): at start-up the leader writes every served Service's status.
    /// </summary>
    private async Task<bool> PatchAsync(string kind, string key, JsonNode? current, JsonNode? desired, string relative, CancellationToken ct)
    {
        if (StatusPatch(current, desired) is not { } body)
            return false;
        if (!leadership.IsLeader)
        {
            log.LogDebug("{Kind} {Key}: status differs but this replica is not the leader", kind, key);
            return false;
        }
        await JsonListWatch.WriteAsync(JsonListWatch.Api(client, "writing status"), HttpMethod.Patch, $"{relative}?fieldManager={FieldManager}", body,
            "application/merge-patch+json", ct);
        log.LogDebug("{Kind} {Key}: status patched with {Patch}", kind, key, body);
        return true;
    }
}
