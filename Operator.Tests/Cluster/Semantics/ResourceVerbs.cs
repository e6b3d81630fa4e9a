using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>The object a request addresses: a kind in a version, maybe a namespace, name and subresource.</summary>
public sealed record Target(ResourceType Type, string Version, string? Namespace, string? Name, string? Subresource)
{
    public string ApiVersion => Type.ApiVersion(Version);
}

/// <summary>The query options every write takes.</summary>
public sealed record WriteOptions
{
    public bool DryRun { get; init; }
    public string? FieldManager { get; init; }
    /// <summary>Strict, Warn (kube-apiserver's default) or Ignore.</summary>
    public string FieldValidation { get; init; } = "Warn";
    public List<string> Warnings { get; } = [];
}

/// <summary>A written object and the HTTP code to answer with (201 on create).</summary>
public sealed record WriteResult(JsonObject Object, int Code);

/// <summary>
/// The API semantics over the store: create, get, list, update, patch and delete with kube-apiserver's rules
/// for metadata, generation, the status subresource, optimistic concurrency, finalizers and CRDs.
/// </summary>
public sealed partial class ResourceVerbs(ObjectStore store, ResourceRegistry registry, TimeProvider time)
{
    private int _nextClusterIp = 10;

    public ObjectStore Store => store;
    public ResourceRegistry Registry => registry;

    public JsonObject Get(Target target)
    {
        var obj = store.Get(target.Type.Key, target.Namespace, target.Name!) ?? throw ApiError.NotFound(target.Type, target.Name!);
        return Present(target, obj);
    }

    /// <summary>Rewrites apiVersion for the version asked for (stored once, served in every version).</summary>
    public static JsonObject Present(Target target, JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        copy["apiVersion"] = target.ApiVersion;
        copy["kind"] = target.Type.Kind;
        return copy;
    }

    public JsonObject List(Target target, Selector selector, int? limit, string? continueToken)
    {
        lock (store.Gate)
        {
            var start = continueToken is null ? null : DecodeContinue(continueToken);
            var matching = store.List(target.Type.Key, target.Namespace)
                .Where(o => start is null || string.CompareOrdinal(o.Key, start) > 0)
                .Where(o => selector.Matches(o.Object)).ToList();
            var page = limit is > 0 ? matching.Take(limit.Value).ToList() : matching;
            var metadata = new JsonObject { ["resourceVersion"] = store.ResourceVersion.ToString(CultureInfo.InvariantCulture) };
            if (page.Count < matching.Count)
            {
                metadata["continue"] = EncodeContinue(page[^1].Key);
                metadata["remainingItemCount"] = matching.Count - page.Count;
            }
            return new JsonObject
            {
                ["kind"] = target.Type.ListKind,
                ["apiVersion"] = target.ApiVersion,
                ["metadata"] = metadata,
                ["items"] = new JsonArray([.. page.Select(o => (JsonNode)Present(target, o.Object))]),
            };
        }
    }

    private static string EncodeContinue(string key) =>
        Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["start"] = key }));

    private static string DecodeContinue(string token)
    {
        try
        {
            var parsed = JsonSerializer.Deserialize<Dictionary<string, string>>(Convert.FromBase64String(token));
            return parsed?["start"] ?? throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException)
        {
            throw ApiError.BadRequest($"continue key is not valid: {token}");
        }
    }

    public WriteResult Create(Target target, JsonObject body, WriteOptions options)
    {
        var type = target.Type;
        if (target.Subresource is not null) throw ApiError.MethodNotAllowed($"create is not supported on {type.Plural}/{target.Subresource}");
        lock (store.Gate)
        {
            var obj = (JsonObject)body.DeepClone();
            var meta = ObjectStore.Metadata(obj);
            var name = meta["name"]?.GetValue<string>();
            if (string.IsNullOrEmpty(name) && meta["generateName"]?.GetValue<string>() is { Length: > 0 } prefix)
                name = prefix + RandomSuffix();
            if (string.IsNullOrEmpty(name))
                throw ApiError.Invalid(type, "", [new("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")]);
            if (target.Name is not null && target.Name != name)
                throw ApiError.BadRequest($"the name of the object ({name}) does not match the name on the URL ({target.Name})");
            meta["name"] = name;
            PlaceInNamespace(target, meta);
            CheckName(type, name);
            if (store.Get(type.Key, target.Namespace, name) is not null) throw ApiError.AlreadyExists(type, name);
            meta.Remove("resourceVersion");
            meta.Remove("deletionTimestamp");
            meta.Remove("deletionGracePeriodSeconds");
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Timestamps.Format(time.GetUtcNow());
            if (type.HasGeneration) meta["generation"] = 1;
            else meta.Remove("generation");
            obj["apiVersion"] = type.ApiVersion(type.StorageVersion);
            obj["kind"] = type.Kind;
            if (type.HasStatus(target.Version) && !type.CreateKeepsStatus) obj.Remove("status");
            ApplyBuiltInDefaults(type, obj, null);
            Validate(target, obj, null, options);
            if (options.DryRun) return new(Present(target, obj), 201);
            var stored = store.Put(type.Key, obj, null);
            AfterWrite(type, stored);
            return new(Present(target, store.Get(type.Key, target.Namespace, name)!), 201);
        }
    }

    private static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Concat(Enumerable.Range(0, 5).Select(_ => alphabet[Random.Shared.Next(alphabet.Length)]));
    }

    private void PlaceInNamespace(Target target, JsonObject meta)
    {
        if (!target.Type.Namespaced)
        {
            meta.Remove("namespace");
            return;
        }
        var given = meta["namespace"]?.GetValue<string>();
        if (!string.IsNullOrEmpty(given) && given != target.Namespace)
            throw ApiError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        meta["namespace"] = target.Namespace;
        var namespaces = registry.Find("", "v1", "namespaces")!;
        var ns = store.Get(namespaces.Key, null, target.Namespace!) ?? throw ApiError.NotFound(namespaces, target.Namespace!);
        if (ns["metadata"]?["deletionTimestamp"] is not null)
            throw new ApiError(403, "Forbidden", $"{target.Type.QualifiedPlural} \"{meta["name"]}\" is forbidden: unable to create new content in namespace {target.Namespace} because it is being terminated");
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Subdomain();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Label();

    private static void CheckName(ResourceType type, string name)
    {
        if (type.Group == "rbac.authorization.k8s.io") return; // path-segment names such as system:controller
        var label = type.Key is "/namespaces" or "/services";
        var valid = label ? name.Length <= 63 && Label().IsMatch(name) && (type.Key != "/services" || char.IsAsciiLetterLower(name[0]))
            : name.Length <= 253 && Subdomain().IsMatch(name);
        if (valid) return;
        var why = label
            ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
        throw ApiError.Invalid(type, name, [new("FieldValueInvalid", "metadata.name", $"Invalid value: \"{name}\": {why}")]);
    }

    public WriteResult Update(Target target, JsonObject body, WriteOptions options)
    {
        lock (store.Gate)
        {
            var old = store.Get(target.Type.Key, target.Namespace, target.Name!);
            if (old is null)
            {
                if (target.Type.AllowCreateOnUpdate && target.Subresource is null) return Create(target, body, options);
                throw ApiError.NotFound(target.Type, target.Name!);
            }
            var candidate = (JsonObject)body.DeepClone();
            if (string.IsNullOrEmpty(ObjectStore.Metadata(candidate)["resourceVersion"]?.GetValue<string>()) && target.Type.IsCustom)
                throw ApiError.Invalid(target.Type, target.Name!, [new("FieldValueInvalid", "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")]);
            return new(Commit(target, old, candidate, options), 200);
        }
    }

    public WriteResult Patch(Target target, string contentType, string body, WriteOptions options)
    {
        var mediaType = contentType.Split(';')[0].Trim();
        var isApply = mediaType == "application/apply-patch+yaml";
        if (mediaType is not ("application/json-patch+json" or "application/merge-patch+json" or "application/strategic-merge-patch+json") && !isApply)
            throw ApiError.UnsupportedMediaType(contentType);
        JsonNode? patch;
        try { patch = isApply ? Yaml.ToJson(body) : JsonNode.Parse(body); }
        catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
        {
            throw ApiError.BadRequest($"error decoding patch: {e.Message}");
        }
        lock (store.Gate)
        {
            var old = store.Get(target.Type.Key, target.Namespace, target.Name!);
            if (isApply) return Apply(target, old, patch as JsonObject ?? throw ApiError.BadRequest("an apply patch must be an object"), options);
            if (old is null) throw ApiError.NotFound(target.Type, target.Name!);
            var live = Present(target, old);
            var patched = mediaType switch
            {
                "application/json-patch+json" => Patches.Json(live, patch, why => new ApiError(422, "Invalid", why)),
                "application/merge-patch+json" => Patches.Merge(live, patch),
                _ => Patches.Strategic(live, patch),
            };
            if (patched is not JsonObject candidate) throw ApiError.BadRequest("the patch did not produce an object");
            return new(Commit(target, old, candidate, options), 200);
        }
    }

    private WriteResult Apply(Target target, JsonObject? old, JsonObject applied, WriteOptions options)
    {
        if (string.IsNullOrEmpty(options.FieldManager))
            throw ApiError.BadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
        var kind = applied["kind"]?.GetValue<string>();
        if (kind is not null && kind != target.Type.Kind)
            throw ApiError.BadRequest($"the kind in the applied configuration ({kind}) does not match {target.Type.Kind}");
        var appliedName = applied["metadata"]?["name"]?.GetValue<string>();
        if (appliedName is not null && appliedName != target.Name)
            throw ApiError.BadRequest($"the name of the object ({appliedName}) does not match the name on the URL ({target.Name})");
        var now = time.GetUtcNow();
        if (old is null)
        {
            if (target.Subresource is not null) throw ApiError.NotFound(target.Type, target.Name!);
            var created = ServerSideApply.Apply(new JsonObject(), applied, options.FieldManager, null, target.ApiVersion, now);
            ObjectStore.Metadata(created)["name"] = target.Name;
            return Create(target with { Name = null }, created, options);
        }
        var merged = ServerSideApply.Apply(Present(target, old), applied, options.FieldManager, target.Subresource, target.ApiVersion, now);
        return new(Commit(target, old, merged, options, keepManagedFields: true), 200);
    }

    /// <summary>The update path shared by PUT, PATCH and apply: the rules that decide what is stored.</summary>
    private JsonObject Commit(Target target, JsonObject old, JsonObject candidate, WriteOptions options, bool keepManagedFields = false)
    {
        var type = target.Type;
        var meta = ObjectStore.Metadata(candidate);
        var oldMeta = (JsonObject)old["metadata"]!;
        var name = meta["name"]?.GetValue<string>();
        if (name is not null && name != target.Name)
            throw ApiError.BadRequest($"the name of the object ({name}) does not match the name on the URL ({target.Name})");
        var givenVersion = meta["resourceVersion"]?.GetValue<string>();
        if (!string.IsNullOrEmpty(givenVersion) && givenVersion != oldMeta["resourceVersion"]!.GetValue<string>())
            throw ApiError.Conflict(type, target.Name!, "the object has been modified; please apply your changes to the latest version and try again");

        JsonObject result;
        if (target.Subresource == "status")
        {
            result = (JsonObject)old.DeepClone();
            if (candidate["status"] is { } status) result["status"] = status.DeepClone();
            else result.Remove("status");
            if (keepManagedFields && meta["managedFields"] is { } fields) ObjectStore.Metadata(result)["managedFields"] = fields.DeepClone();
        }
        else if (target.Subresource is not null)
        {
            throw ApiError.NoRoute();
        }
        else
        {
            result = candidate;
            if (type.HasStatus(target.Version))
            {
                result.Remove("status");
                if (old["status"] is { } status) result["status"] = status.DeepClone();
            }
            foreach (var kept in new[] { "name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation" })
            {
                if (oldMeta[kept] is { } value) meta[kept] = value.DeepClone();
                else meta.Remove(kept);
            }
            if (!keepManagedFields || meta["managedFields"] is null)
            {
                if (oldMeta["managedFields"] is { } fields) meta["managedFields"] = fields.DeepClone();
                else meta.Remove("managedFields");
            }
            if (oldMeta["deletionTimestamp"] is not null)
            {
                var before = Finalizers(old).ToHashSet();
                if (Finalizers(result).Any(f => !before.Contains(f)))
                    throw ApiError.Invalid(type, target.Name!, [new("FieldValueForbidden", "metadata.finalizers", "Forbidden: no new finalizers can be added if the object is being deleted")]);
            }
        }
        result["apiVersion"] = type.ApiVersion(type.StorageVersion);
        result["kind"] = type.Kind;
        ObjectStore.Metadata(result)["resourceVersion"] = oldMeta["resourceVersion"]!.DeepClone();
        ApplyBuiltInDefaults(type, result, old);
        Validate(target, result, old, options);
        if (type.HasGeneration && !JsonNode.DeepEquals(Content(result), Content(old)))
            ObjectStore.Metadata(result)["generation"] = long.Parse(oldMeta["generation"]?.ToJsonString() ?? "0", CultureInfo.InvariantCulture) + 1;

        if (JsonNode.DeepEquals(Unstamped(result), Unstamped(old))) return Present(target, old);
        if (options.DryRun) return Present(target, result);
        if (ObjectStore.Metadata(result)["deletionTimestamp"] is not null && !Finalizers(result).Any())
            return Present(target, Remove(type, old));
        var stored = store.Put(type.Key, result, old);
        AfterWrite(type, stored);
        return Present(target, store.Get(type.Key, target.Namespace, target.Name!)!);
    }

    private static IEnumerable<string> Finalizers(JsonObject obj) =>
        (obj["metadata"]?["finalizers"] as JsonArray ?? []).Select(f => f!.GetValue<string>());

    /// <summary>What a generation counts: everything but metadata and status.</summary>
    private static JsonObject Content(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        copy.Remove("metadata");
        copy.Remove("status");
        return copy;
    }

    /// <summary>An object without the stamps that change on every write, to tell a no-op write (not stored).</summary>
    private static JsonObject Unstamped(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        var meta = ObjectStore.Metadata(copy);
        meta.Remove("resourceVersion");
        foreach (var entry in (meta["managedFields"] as JsonArray ?? []).OfType<JsonObject>()) entry.Remove("time");
        return copy;
    }

    public WriteResult Delete(Target target, JsonObject? deleteOptions, WriteOptions options)
    {
        lock (store.Gate)
        {
            var type = target.Type;
            var old = store.Get(type.Key, target.Namespace, target.Name!) ?? throw ApiError.NotFound(type, target.Name!);
            var preconditions = deleteOptions?["preconditions"];
            if (preconditions?["resourceVersion"]?.GetValue<string>() is { } rv && rv != old["metadata"]!["resourceVersion"]!.GetValue<string>())
                throw ApiError.Conflict(type, target.Name!, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {old["metadata"]!["resourceVersion"]}");
            if (preconditions?["uid"]?.GetValue<string>() is { } uid && uid != old["metadata"]!["uid"]!.GetValue<string>())
                throw ApiError.Conflict(type, target.Name!, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {old["metadata"]!["uid"]}");
            if (options.DryRun) return new(Present(target, old), 200);
            if (Finalizers(old).Any() || type.Key == "/namespaces")
            {
                if (old["metadata"]!["deletionTimestamp"] is not null) return new(Present(target, old), 200);
                var marked = (JsonObject)old.DeepClone();
                var meta = ObjectStore.Metadata(marked);
                meta["deletionTimestamp"] = Timestamps.Format(time.GetUtcNow());
                meta["deletionGracePeriodSeconds"] = 0;
                if (type.Key == "/namespaces") marked["status"] = new JsonObject { ["phase"] = "Terminating" };
                var stored = store.Put(type.Key, marked, old);
                if (type.Key == "/namespaces") return new(Present(target, TerminateNamespace(stored)), 200);
                return new(Present(target, stored), 200);
            }
            var gone = Remove(type, old, orphan: deleteOptions?["propagationPolicy"]?.GetValue<string>() == "Orphan");
            return new(type.IsCustom ? Present(target, gone) : DeletedStatus(type, old), 200);
        }
    }

    /// <summary>What kube-apiserver answers for an immediate delete of a built-in kind (custom resources get the object).</summary>
    private static JsonObject DeletedStatus(ResourceType type, JsonObject deleted) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Success",
        ["details"] = new JsonObject
        {
            ["name"] = deleted["metadata"]?["name"]?.DeepClone(),
            ["group"] = type.Group,
            ["kind"] = type.Plural,
            ["uid"] = deleted["metadata"]?["uid"]?.DeepClone(),
        },
    };
}
