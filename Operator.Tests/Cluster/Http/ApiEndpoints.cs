using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// The HTTP surface: discovery, OpenAPI, and the REST paths of every kind
/// (<c>/api/v1/...</c>, <c>/apis/&lt;group&gt;/&lt;version&gt;/...</c>), mapped onto <see cref="ResourceVerbs"/>.
/// </summary>
public sealed class ApiEndpoints(ResourceVerbs verbs, Faults faults, Access access, TestApiServerOptions options, ILogger logger, Action<TimeSpan, OutageMode> startOutage)
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>
    /// How each user connected: every (user, connection) pair requests came from, with the HTTP version they used
    /// (the connection is Kestrel's id for it). Over TLS the server offers HTTP/2, so a test can see whether a client
    /// shares one connection or opens one per request or watch.
    /// </summary>
    public ConcurrentDictionary<(string User, string Connection), string> Connections { get; } = new();

    /// <summary>Ends every open watch (server shutdown).</summary>
    public void Stop() => _stopping.Cancel();

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        logger.LogDebug("{Method} {Path}{Query}", request.Method, request.Path, request.QueryString);
        try
        {
            if (request.Path.StartsWithSegments("/_fake", out var control))
            {
                await ControlAsync(context, control.Value ?? "");
                return;
            }
            if (await faults.InterceptAsync(context)) return;
            await access.AuthenticateAsync(context);
            Connections.TryAdd((Access.UserOf(context).Name, context.Connection.Id), request.Protocol);
            await RouteAsync(context);
        }
        catch (ApiError error)
        {
            if (!context.Response.HasStarted) await HttpAnswers.WriteStatusAsync(context, error);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            logger.LogError(e, "{Method} {Path} failed", request.Method, request.Path);
            await HttpAnswers.WriteStatusAsync(context, new ApiError(500, "InternalError", $"an error on the server (\"{e.Message}\") has prevented the request from succeeding"));
        }
    }

    /// <summary>
    /// Fault injection over HTTP, for the standalone process: <c>POST /_fake/close-watches</c>, <c>/_fake/compact</c>,
    /// <c>/_fake/fail?count=N&amp;code=500</c>, <c>/_fake/throttle?count=N&amp;retryAfter=S</c>,
    /// <c>/_fake/outage?seconds=S&amp;mode=refuse|hang</c>, <c>/_fake/latency?ms=N</c>, <c>/_fake/clear</c>.
    /// </summary>
    private async Task ControlAsync(HttpContext context, string action)
    {
        if (context.Request.Method != "POST") throw ApiError.MethodNotAllowed("fault injection takes POST");
        var query = context.Request.Query;
        int Number(string name, int fallback) => int.TryParse(query[name], CultureInfo.InvariantCulture, out var n) ? n : fallback;
        switch (action)
        {
            case "/close-watches": verbs.Store.CloseWatches(); break;
            case "/compact": verbs.Store.Compact(); break;
            case "/fail": faults.FailNext(Number("count", 1), Number("code", 500)); break;
            case "/throttle": faults.ThrottleNext(Number("count", 1), Number("retryAfter", 1)); break;
            case "/outage":
                startOutage(TimeSpan.FromSeconds(Number("seconds", 5)), query["mode"] == "hang" ? OutageMode.Hang : OutageMode.Refuse);
                break;
            case "/latency": faults.Latency = TimeSpan.FromMilliseconds(Number("ms", 0)); break;
            case "/clear": faults.Clear(); break;
            default: throw ApiError.NoRoute();
        }
        await HttpAnswers.WriteJsonAsync(context, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success", ["message"] = action.TrimStart('/') });
    }

    private async Task RouteAsync(HttpContext context)
    {
        var segments = (context.Request.Path.Value ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries);
        var registry = verbs.Registry;
        if (segments is not (["api", _, _, ..] or ["apis", _, _, _, ..]))
            access.Authorize(context, new RequestAttributes { Verb = context.Request.Method.ToLowerInvariant(), Path = context.Request.Path.Value ?? "/" });
        switch (segments)
        {
            case ["version"]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.Version());
                return;
            case ["healthz" or "livez" or "readyz", ..]:
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("ok");
                return;
            case ["api"]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.CoreVersions($"{context.Request.Host}"));
                return;
            case ["apis"]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.GroupList(registry));
                return;
            case ["api", var version]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.ResourceList(registry, "", version) ?? throw ApiError.NoRoute());
                return;
            case ["apis", var group]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.Group(registry, group) ?? throw ApiError.NoRoute());
                return;
            case ["apis", var group, var version]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.ResourceList(registry, group, version) ?? throw ApiError.NoRoute());
                return;
            case ["openapi", "v2"]:
                context.Response.ContentType = "application/octet-stream";
                await context.Response.Body.WriteAsync(Discovery.OpenApiV2Protobuf());
                return;
            case ["openapi", "v3"]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.OpenApiV3Root(registry));
                return;
            case ["openapi", "v3", .. var gv]:
                await HttpAnswers.WriteJsonAsync(context, Discovery.OpenApiV3(registry, string.Join('/', gv)) ?? throw ApiError.NoRoute());
                return;
            case ["api", var version, .. var rest]:
                await ResourceAsync(context, "", version, rest);
                return;
            case ["apis", var group, var version, .. var rest]:
                await ResourceAsync(context, group, version, rest);
                return;
            default:
                throw ApiError.NoRoute();
        }
    }

    private async Task ResourceAsync(HttpContext context, string group, string version, string[] rest)
    {
        var registry = verbs.Registry;
        var watch = IsTrue(context.Request.Query["watch"]);
        if (rest is ["watch", .. var watched])
        {
            watch = true;
            rest = watched;
        }
        string? ns = null;
        if (rest.Length >= 3 && rest[0] == "namespaces" && registry.Find(group, version, rest[2]) is { Namespaced: true })
        {
            ns = rest[1];
            rest = rest[2..];
        }
        if (await access.TryAnswerAsync(context, group, version, ns, rest, () => ReadObjectAsync(context))) return;
        if (rest.Length is 0 or > 3) throw ApiError.NoRoute();
        var type = registry.Find(group, version, rest[0]) ?? throw ApiError.NoRoute();
        var name = rest.Length > 1 ? rest[1] : null;
        var subresource = rest.Length > 2 ? rest[2] : null;
        if (subresource is not null && !(subresource == "status" && type.HasStatus(version))) throw ApiError.NoRoute();
        if (type.Namespaced && ns is null && name is not null) throw ApiError.NoRoute();
        var target = new Target(type, version, ns, name, subresource);
        var query = context.Request.Query;
        var method = context.Request.Method;
        access.Authorize(context, new RequestAttributes
        {
            Verb = RequestAttributes.VerbOf(method, name is not null, watch),
            Group = type.Group, Resource = type.Plural, Subresource = subresource, Name = name, Namespace = ns,
        });

        if (method == "GET" && name is null)
        {
            var selector = Selector.Parse(query["labelSelector"], query["fieldSelector"]);
            if (watch)
            {
                await WatchAsync(context, target, selector);
                return;
            }
            var limit = int.TryParse(query["limit"], CultureInfo.InvariantCulture, out var l) ? l : (int?)null;
            await AnswerAsync(context, target, verbs.List(target, selector, limit, NullIfEmpty(query["continue"])), 200);
            return;
        }
        if (method == "GET" && watch)
        {
            await WatchAsync(context, target with { Name = null }, Selector.Parse(null, $"metadata.name={name}"));
            return;
        }
        var options = new WriteOptions
        {
            DryRun = query["dryRun"].Any(v => v == "All"),
            FieldManager = NullIfEmpty(query["fieldManager"]),
            FieldValidation = NullIfEmpty(query["fieldValidation"]) ?? "Warn",
        };
        WriteResult result = method switch
        {
            "GET" => new(verbs.Get(target), 200),
            "POST" when name is null => verbs.Create(target, await ReadObjectAsync(context), options),
            "PUT" when name is not null => verbs.Update(target, await ReadObjectAsync(context), options),
            "PATCH" when name is not null => verbs.Patch(target, context.Request.ContentType ?? "", await ReadTextAsync(context), options),
            "DELETE" when name is not null => verbs.Delete(target, DeleteOptions(await ReadOptionalObjectAsync(context), query["propagationPolicy"]), options),
            "DELETE" => DeleteCollection(target, Selector.Parse(query["labelSelector"], query["fieldSelector"]), options),
            _ => throw ApiError.MethodNotAllowed($"the server does not allow this method on the requested resource"),
        };
        foreach (var warning in options.Warnings)
            context.Response.Headers.Append("Warning", $"299 - \"{warning.Replace("\"", "\\\"")}\"");
        await AnswerAsync(context, target, result.Object, result.Code);
    }

    /// <summary>The DeleteOptions body, with a propagationPolicy given as a query parameter folded in.</summary>
    private static JsonObject? DeleteOptions(JsonObject? body, Microsoft.Extensions.Primitives.StringValues propagationPolicy)
    {
        if (string.IsNullOrEmpty(propagationPolicy)) return body;
        body ??= [];
        body["propagationPolicy"] ??= propagationPolicy.ToString();
        return body;
    }

    private WriteResult DeleteCollection(Target target, Selector selector, WriteOptions options)
    {
        var list = verbs.List(target, selector, null, null);
        foreach (var item in ((JsonArray)list["items"]!).OfType<JsonObject>())
            verbs.Delete(target with { Namespace = item["metadata"]?["namespace"]?.GetValue<string>(), Name = item["metadata"]!["name"]!.GetValue<string>() }, null, options);
        list.Remove("items");
        list["items"] = new JsonArray();
        return new(list, 200);
    }

    private static bool IsTrue(Microsoft.Extensions.Primitives.StringValues value) => value.Any(v => v is "true" or "1");

    private static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) =>
        string.IsNullOrEmpty(value.ToString()) ? null : value.ToString();

    /// <summary>Answers with the object, a Table, or PartialObjectMetadata, as the Accept header asks.</summary>
    private Task AnswerAsync(HttpContext context, Target target, JsonObject body, int code)
    {
        var accept = context.Request.Headers.Accept.ToString();
        if (body["kind"]?.GetValue<string>() == "Status") return HttpAnswers.WriteJsonAsync(context, body, code);
        if (Tables.Wanted(accept))
            return HttpAnswers.WriteJsonAsync(context, Tables.From(target, body, NullIfEmpty(context.Request.Query["includeObject"]), options.Time.GetUtcNow()), code);
        if (accept.Split(',')[0].Contains("as=PartialObjectMetadata", StringComparison.Ordinal))
        {
            if (body["items"] is JsonArray items)
            {
                return HttpAnswers.WriteJsonAsync(context, new JsonObject
                {
                    ["kind"] = "PartialObjectMetadataList",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = body["metadata"]?.DeepClone(),
                    ["items"] = new JsonArray([.. items.OfType<JsonObject>().Select(i => (JsonNode)Tables.PartialMetadata(i))]),
                }, code);
            }
            return HttpAnswers.WriteJsonAsync(context, Tables.PartialMetadata(body), code);
        }
        return HttpAnswers.WriteJsonAsync(context, body, code);
    }

    private static async Task<string> ReadTextAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        return await reader.ReadToEndAsync(context.RequestAborted);
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpContext context)
    {
        var contentType = context.Request.ContentType ?? "application/json";
        if (!contentType.StartsWith("application/json", StringComparison.Ordinal) && !contentType.Contains("yaml", StringComparison.Ordinal)
            && !contentType.StartsWith(Protobuf.MediaType, StringComparison.Ordinal))
            throw ApiError.UnsupportedMediaType(contentType);
        return await ReadOptionalObjectAsync(context) ?? throw ApiError.BadRequest("the request body is empty");
    }

    private static async Task<JsonObject?> ReadOptionalObjectAsync(HttpContext context)
    {
        if (context.Request.ContentType?.StartsWith(Protobuf.MediaType, StringComparison.Ordinal) == true)
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            return buffer.Length == 0 ? null : Protobuf.Decode(buffer.ToArray());
        }
        var text = await ReadTextAsync(context);
        if (string.IsNullOrWhiteSpace(text)) return null;
        try
        {
            return Yaml.ToJson(text) as JsonObject ?? throw ApiError.BadRequest("the request body is not an object");
        }
        catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
        {
            throw ApiError.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>
    /// A watch: newline-delimited events from a resourceVersion (replayed from the history), or from the current
    /// state (synthetic ADDED events) when none or "0" is given; BOOKMARKs when allowed; ends at timeoutSeconds.
    /// </summary>
    private async Task WatchAsync(HttpContext context, Target target, Selector selector)
    {
        var query = context.Request.Query;
        var rvParam = NullIfEmpty(query["resourceVersion"]);
        var sendInitial = IsTrue(query["sendInitialEvents"]);
        long? from = rvParam is null or "0" || sendInitial ? null
            : long.TryParse(rvParam, CultureInfo.InvariantCulture, out var rv) ? rv
            : throw ApiError.BadRequest($"invalid resource version \"{rvParam}\"");
        var bookmarks = IsTrue(query["allowWatchBookmarks"]);
        var timeout = int.TryParse(query["timeoutSeconds"], CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds) : options.WatchTimeout;
        var store = verbs.Store;
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        Subscription subscription;
        IReadOnlyList<StoredEvent> replay;
        long startVersion;
        try
        {
            (subscription, replay, startVersion) = store.Subscribe(target.Type.Key, from);
        }
        catch (ApiError expired)
        {
            await WriteEventAsync(context, "ERROR", expired.ToStatus());
            return;
        }
        // A listener closing for an outage waits for its requests: a watch begun after CloseWatches must end too.
        var closing = context.RequestServices.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
        using (subscription)
        using (var ends = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, subscription.Closed.Token, _stopping.Token, closing))
        {
            ends.CancelAfter(timeout);
            try
            {
                await response.StartAsync(ends.Token);
                await response.Body.FlushAsync(ends.Token);
                foreach (var change in replay) await SendAsync(context, target, selector, change, ends.Token);
                if (sendInitial && bookmarks)
                    await WriteEventAsync(context, "BOOKMARK", Bookmark(target, startVersion, initialEventsEnd: true), ends.Token);
                var reader = subscription.Events.Reader;
                while (!ends.IsCancellationRequested)
                {
                    using var tick = CancellationTokenSource.CreateLinkedTokenSource(ends.Token);
                    if (bookmarks) tick.CancelAfter(options.BookmarkInterval);
                    try
                    {
                        var change = await reader.ReadAsync(tick.Token);
                        await SendAsync(context, target, selector, change, ends.Token);
                    }
                    catch (OperationCanceledException) when (!ends.IsCancellationRequested)
                    {
                        if (BookmarkVersion(store, reader) is { } version)
                            await WriteEventAsync(context, "BOOKMARK", Bookmark(target, version, false), ends.Token);
                    }
                }
            }
            catch (OperationCanceledException) when (ends.IsCancellationRequested)
            {
                // Timeout, a fault closing watches, shutdown, or the client left: the stream just ends.
            }
        }
    }

    /// <summary>The store's resourceVersion, when every event up to it has been sent (nothing waits in the queue).</summary>
    private static long? BookmarkVersion(ObjectStore store, System.Threading.Channels.ChannelReader<StoredEvent> reader)
    {
        lock (store.Gate) return reader.TryPeek(out _) ? null : store.ResourceVersion;
    }

    private static JsonObject Bookmark(Target target, long version, bool initialEventsEnd)
    {
        var metadata = new JsonObject { ["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture) };
        if (initialEventsEnd) metadata["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        return new JsonObject { ["kind"] = target.Type.Kind, ["apiVersion"] = target.ApiVersion, ["metadata"] = metadata };
    }

    /// <summary>Sends one change as the watcher sees it: an edit that moves an object into or out of its selection is ADDED or DELETED.</summary>
    private Task SendAsync(HttpContext context, Target target, Selector selector, StoredEvent change, CancellationToken cancel)
    {
        if (target.Namespace is not null && change.Object["metadata"]?["namespace"]?.GetValue<string>() != target.Namespace) return Task.CompletedTask;
        var type = change.Type;
        var matches = selector.Matches(change.Object);
        if (type == "MODIFIED")
        {
            var matched = change.Previous is not null && selector.Matches(change.Previous);
            if (!matches && !matched) return Task.CompletedTask;
            if (!matched) type = "ADDED";
            if (!matches) type = "DELETED";
        }
        else if (!matches)
        {
            return Task.CompletedTask;
        }
        var obj = ResourceVerbs.Present(target, change.Object);
        // kubectl get --watch asks for Tables: each event then carries a one-row Table.
        if (Tables.Wanted(context.Request.Headers.Accept.ToString()))
            obj = Tables.From(target, obj, NullIfEmpty(context.Request.Query["includeObject"]), options.Time.GetUtcNow());
        return WriteEventAsync(context, type, obj, cancel);
    }

    private static async Task WriteEventAsync(HttpContext context, string type, JsonObject obj, CancellationToken cancel = default)
    {
        var line = new JsonObject { ["type"] = type, ["object"] = obj }.ToJsonString() + "\n";
        await context.Response.WriteAsync(line, cancel);
        await context.Response.Body.FlushAsync(cancel);
    }
}
