using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace MiniLb.Operator.Kube;

/// <summary>
/// The <c>metadata</c> fields every projection keeps: identity and the version the informer tracks. A kind whose
/// projection reads labels or annotations derives from it and reads only those keys (<see cref="KeptKeysConverter"/>).
/// </summary>
public class ObjectMetaJson
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
    [JsonPropertyName("uid")] public string? Uid { get; set; }
    [JsonPropertyName("resourceVersion")] public string? ResourceVersion { get; set; }
    [JsonPropertyName("generation")] public long? Generation { get; set; }
}

/// <summary>A LIST answer: the items as <typeparamref name="T"/> and the list's resourceVersion and continue token.</summary>
public sealed class ListJson<T>
{
    [JsonPropertyName("metadata")] public ListMetaJson? Metadata { get; set; }
    [JsonPropertyName("items")] public List<T>? Items { get; set; }
}

public sealed class ListMetaJson
{
    [JsonPropertyName("resourceVersion")] public string? ResourceVersion { get; set; }
    [JsonPropertyName("continue")] public string? Continue { get; set; }
}

/// <summary>The fields of a v1 Status that a watch ERROR event carries.</summary>
public sealed class StatusJson
{
    [JsonPropertyName("code")] public int? Code { get; set; }
    [JsonPropertyName("reason")] public string? Reason { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

[JsonSerializable(typeof(StatusJson))]
internal sealed partial class EnvelopeJson : JsonSerializerContext;

/// <summary>
/// LIST and WATCH read straight from the HTTP response into a small, source-generated shape of a kind and projected
/// at once, so no KubernetesClient model of the object is ever built: the API server's JSON is streamed through
/// <see cref="Utf8JsonReader"/>, unknown fields (images, managedFields, targetRef, …) are skipped, and what the
/// cache keeps is the projection. The client's HTTP pipeline (TLS, credentials, token refresh) is reused.
/// </summary>
public static class JsonListWatch
{
    /// <summary>
    /// How long a LIST or a write (<see cref="WriteAsync"/>) may take, as KubernetesClient's default HttpClientTimeout:
    /// its HttpClient has no timeout of its own (watches must not have one), so without this a request the server
    /// never answers would hang the informer or the controller.
    /// </summary>
    public static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(100);

    /// <param name="json">Source-generated metadata of the kind's JSON shape (only what is read).</param>
    /// <param name="project">The JSON shape → the immutable projection the cache holds.</param>
    public static ListWatch<TView> Create<TJson, TView>(IKubernetes client, ResourceKind kind,
        JsonTypeInfo<ListJson<TJson>> list, JsonTypeInfo<TJson> json, Func<TJson, TView> project)
        where TView : class, IKubernetesObject<V1ObjectMeta>
    {
        var api = Api(client, $"projected LIST/WATCH of {kind}");
        var path = kind.Group.Length == 0 ? $"api/{kind.Version}/{kind.Plural}" : $"apis/{kind.Group}/{kind.Version}/{kind.Plural}";
        return new ListWatch<TView>
        {
            Kind = kind,
            List = async (next, limit, ct) =>
            {
                var query = $"?limit={limit}" + (next is null ? "" : "&continue=" + Uri.EscapeDataString(next));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(ListTimeout);
                using var response = await SendAsync(api, path + query, timeout.Token);
                await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
                var page = await JsonSerializer.DeserializeAsync(stream, list, timeout.Token)
                    ?? throw new InvalidDataException($"the API server sent an empty {kind.Kind} list");
                return new ListPage<TView>((page.Items ?? []).Select(project).ToList(), page.Metadata?.ResourceVersion, page.Metadata?.Continue);
            },
            Watch = (rv, timeout, onError, ct) => WatchAsync(api, path, kind, json, project, rv, timeout, onError, ct),
        };
    }

    private static async IAsyncEnumerable<(WatchEventType, TView)> WatchAsync<TJson, TView>(Kubernetes api, string path,
        ResourceKind kind, JsonTypeInfo<TJson> json, Func<TJson, TView> project, string rv, int timeout,
        Action<Exception> onError, [EnumeratorCancellation] CancellationToken ct)
    {
        var query = $"?watch=true&allowWatchBookmarks=true&timeoutSeconds={timeout}&resourceVersion={Uri.EscapeDataString(rv)}";
        using var response = await SendAsync(api, path + query, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var lines = new StreamReader(stream, Encoding.UTF8);
        while (await lines.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
                continue;
            (WatchEventType Type, TView View)? next = null;
            try
            {
                next = Read(line, kind, json, project);
            }
            catch (Exception e) when (e is JsonException or InvalidDataException)
            {
                // As KubernetesClient does: a line that cannot be read goes to onError (which may end the watch).
                onError(e);
            }
            catch (KubernetesException e)
            {
                onError(e);
            }
            if (next is { } item)
                yield return item;
        }
    }

    /// <summary>One watch line. A BOOKMARK is projected too: only its resourceVersion is read (by the informer).</summary>
    private static (WatchEventType, TView) Read<TJson, TView>(string line, ResourceKind kind, JsonTypeInfo<TJson> json, Func<TJson, TView> project)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        var type = root.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (!root.TryGetProperty("object", out var obj) || obj.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"a {kind.Kind} watch event without an object");
        switch (type)
        {
            case "ERROR":
                var status = obj.Deserialize(EnvelopeJson.Default.StatusJson);
                throw new KubernetesException(new V1Status { Code = status?.Code, Reason = status?.Reason, Message = status?.Message, Status = "Failure" });
            case "ADDED" or "MODIFIED" or "DELETED" or "BOOKMARK":
                var item = obj.Deserialize(json) ?? throw new InvalidDataException($"a null {kind.Kind} in a watch event");
                return (type switch
                {
                    "ADDED" => WatchEventType.Added,
                    "MODIFIED" => WatchEventType.Modified,
                    "DELETED" => WatchEventType.Deleted,
                    _ => WatchEventType.Bookmark,
                }, project(item));
            default:
                throw new InvalidDataException($"a {kind.Kind} watch event of unknown type '{type}'");
        }
    }

    /// <summary>
    /// A GET of a path under the API server through the client's HTTP pipeline (TLS, credentials, HTTP/2 where the
    /// client asks for it: <see cref="PreferHttp2"/>), answered as soon as the headers arrive, whatever its status.
    /// </summary>
    internal static Task<HttpResponseMessage> GetAsync(Kubernetes api, string relative, CancellationToken ct) =>
        RequestAsync(api, HttpMethod.Get, relative, null, ct);

    /// <summary>A request with an optional JSON body, the same way as <see cref="GetAsync"/>.</summary>
    private static async Task<HttpResponseMessage> RequestAsync(Kubernetes api, HttpMethod method, string relative, HttpContent? content,
        CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(api.BaseUri, relative)) { Content = content };
        request.Headers.Accept.ParseAdd("application/json");
        if (api.Credentials is { } credentials)
            await credentials.ProcessHttpRequestAsync(request, ct);
        return await api.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    /// <summary>The <see cref="Kubernetes"/> client behind <paramref name="client"/>, whose HTTP pipeline these requests use.</summary>
    internal static Kubernetes Api(IKubernetes client, string purpose) => client as Kubernetes ?? throw new ArgumentException(
        $"{purpose} needs KubernetesClient's Kubernetes client, not {client.GetType().Name}", nameof(client));

    /// <summary>
    /// A write whose answer (the whole object as stored) minilb does not use: a status merge patch, an Event. The body
    /// is sent as JSON text of <paramref name="mediaType"/>; the answer is read to its end unparsed (so an HTTP/1.1
    /// connection can be used again), where KubernetesClient's typed call would build the whole model of it, by
    /// reflection, managedFields included. Fails as <see cref="SendAsync(Kubernetes, HttpMethod, string, HttpContent?, CancellationToken)"/>
    /// does, and after <see cref="ListTimeout"/> as KubernetesClient's calls do.
    /// </summary>
    internal static async Task WriteAsync(Kubernetes api, HttpMethod method, string relative, string body, string mediaType, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ListTimeout);
        using var content = new StringContent(body, Encoding.UTF8, mediaType);
        using var response = await SendAsync(api, method, relative, content, timeout.Token);
        await response.Content.CopyToAsync(Stream.Null, timeout.Token);
    }

    private static Task<HttpResponseMessage> SendAsync(Kubernetes api, string relative, CancellationToken ct) =>
        SendAsync(api, HttpMethod.Get, relative, null, ct);

    /// <summary>
    /// <see cref="RequestAsync"/>, and an answer other than 2xx is thrown as KubernetesClient throws it
    /// (<see cref="HttpOperationException"/> with the status and body), so the same status checks apply: the informer's
    /// 410, 404 and 429 + Retry-After, AccessProblems' 401 and 403, the lease lock's 409.
    /// </summary>
    internal static async Task<HttpResponseMessage> SendAsync(Kubernetes api, HttpMethod method, string relative, HttpContent? content,
        CancellationToken ct)
    {
        var response = await RequestAsync(api, method, relative, content, ct);
        var request = response.RequestMessage!;
        if (response.IsSuccessStatusCode)
            return response;
        var body = await response.Content.ReadAsStringAsync(ct);
        using (response)
        {
            throw new HttpOperationException($"Operation returned an invalid status code '{response.StatusCode}'")
            {
                Request = new HttpRequestMessageWrapper(request, null),
                Response = new HttpResponseMessageWrapper(response, body),
            };
        }
    }
}
