using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Kube;

/// <summary>One page of a LIST: the items, the collection's resourceVersion and the token for the next page.</summary>
public sealed record ListPage<T>(IReadOnlyList<T> Items, string? ResourceVersion, string? Continue);

/// <summary>
/// The two calls an <see cref="Informer{T}"/> needs for one kind: a paged LIST and a WATCH from a resourceVersion.
/// The informer is generic; only this adapter knows which KubernetesClient method serves the kind.
/// </summary>
public sealed class ListWatch<T> where T : class, IKubernetesObject<V1ObjectMeta>
{
    public required ResourceKind Kind { get; init; }

    /// <summary>(continue token, page size) → page.</summary>
    public required Func<string?, int, CancellationToken, Task<ListPage<T>>> List { get; init; }

    /// <summary>
    /// (resourceVersion, timeoutSeconds, onError) → events with bookmarks allowed. KubernetesClient hands watch ERROR
    /// events (410 Expired) only to onError, so the informer passes one that throws.
    /// </summary>
    public required Func<string, int, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType Type, T Object)>> Watch { get; init; }
}

/// <summary>
/// LIST/WATCH adapters over KubernetesClient's models, for the kinds not projected (see
/// <c>Resolution.WatchedKinds</c> for Services, EndpointSlices and Nodes). The RBAC each needs is declared here,
/// next to the calls.
/// </summary>
[EntityRbac(typeof(V1Ingress), RbacVerb.List | RbacVerb.Watch)]
[GenericRbac(Kinds.GatewayGroup, "gateways", RbacVerb.List | RbacVerb.Watch)]
[GenericRbac(Kinds.GatewayGroup, "httproutes", RbacVerb.List | RbacVerb.Watch)]
[GenericRbac(Kinds.GatewayGroup, "grpcroutes", RbacVerb.List | RbacVerb.Watch)]
[GenericRbac(Kinds.GatewayGroup, "tlsroutes", RbacVerb.List | RbacVerb.Watch)]
public static class ListWatches
{
    public static ListWatch<V1Ingress> Ingresses(IKubernetes client) => new()
    {
        Kind = Kinds.Ingress,
        List = async (next, limit, ct) => Page(await client.NetworkingV1.ListIngressForAllNamespacesAsync(
            continueParameter: next, limit: limit, cancellationToken: ct)),
        Watch = (rv, timeout, onError, ct) => client.NetworkingV1.WatchListIngressForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
    };

    /// <summary>
    /// A custom resource (ours, or Gateway API kinds the cluster may not have). The client returns such objects as
    /// <see cref="JsonElement"/>; they are read with the given source-generated type info, so no reflection is needed.
    /// Cluster-wide paths serve namespaced kinds across all namespaces too.
    /// </summary>
    public static ListWatch<T> Custom<T>(IKubernetes client, ResourceKind kind, JsonTypeInfo<T> json)
        where T : class, IKubernetesObject<V1ObjectMeta> => new()
        {
            Kind = kind,
            List = (next, limit, ct) => ListCustomAsync(client, kind, json, next, limit, ct),
            Watch = (rv, timeout, onError, ct) => WatchCustom(client, kind, json, rv, timeout, onError, ct),
        };

    private static async Task<ListPage<T>> ListCustomAsync<T>(IKubernetes client, ResourceKind kind, JsonTypeInfo<T> json,
        string? next, int limit, CancellationToken ct)
    {
        var list = AsJson(await client.CustomObjects.ListClusterCustomObjectAsync(
            kind.Group, kind.Version, kind.Plural, continueParameter: next, limit: limit, cancellationToken: ct), kind);
        var items = list.TryGetProperty("items", out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Select(item => Read(item, json, kind)).ToList()
            : [];
        list.TryGetProperty("metadata", out var meta);
        return new ListPage<T>(items, StringAt(meta, "resourceVersion"), StringAt(meta, "continue"));
    }

    private static async IAsyncEnumerable<(WatchEventType, T)> WatchCustom<T>(IKubernetes client, ResourceKind kind,
        JsonTypeInfo<T> json, string rv, int timeout, Action<Exception> onError, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var (type, item) in client.CustomObjects.WatchListClusterCustomObjectAsync(kind.Group, kind.Version,
            kind.Plural, allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError,
            cancellationToken: ct))
        {
            yield return (type, Read(AsJson(item, kind), json, kind));
        }
    }

    private static ListPage<T> Page<T>(IItems<T> list) where T : IKubernetesObject =>
        new(list.Items.ToList(), ((IMetadata<V1ListMeta>)list).Metadata?.ResourceVersion, ((IMetadata<V1ListMeta>)list).Metadata?.ContinueProperty);

    private static JsonElement AsJson(object? value, ResourceKind kind) => value is JsonElement element
        ? element
        : throw new InvalidDataException($"the API server's answer for {kind} is not a JSON object but {value?.GetType().Name ?? "null"}");

    private static T Read<T>(JsonElement element, JsonTypeInfo<T> json, ResourceKind kind) =>
        element.Deserialize(json) ?? throw new InvalidDataException($"the API server sent a null {kind.Kind}");

    private static string? StringAt(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
