using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// Server-side apply, simplified: the applied configuration is merged into the live object (objects merge,
/// lists are atomic), fields this manager applied before but left out now are removed, and the manager's
/// <c>metadata.managedFields</c> entry records the fields it applied. No conflicts are ever reported
/// (every apply behaves as if <c>force=true</c>), and fields owned by other managers are not protected.
/// </summary>
public static class ServerSideApply
{
    public static JsonObject Apply(JsonObject live, JsonObject applied, string manager, string? subresource, string apiVersion, DateTimeOffset now)
    {
        var previous = OwnedPaths(live, manager, subresource);
        var fields = FieldSet(applied, subresource);
        var result = (JsonObject)Patches.Merge(live.DeepClone(), Scope(applied, subresource))!;
        var applying = Leaves(fields).Select(p => string.Join('\u0000', p)).ToHashSet();
        foreach (var path in previous.Where(p => !applying.Contains(string.Join('\u0000', p)))) RemovePath(result, path);
        SetManagedFields(result, live, manager, subresource, apiVersion, now, fields);
        return result;
    }

    /// <summary>What part of the applied configuration this apply may touch: status only on /status.</summary>
    private static JsonObject Scope(JsonObject applied, string? subresource)
    {
        var copy = (JsonObject)applied.DeepClone();
        if (subresource == "status")
        {
            var only = new JsonObject();
            if (copy["status"] is { } status) only["status"] = status.DeepClone();
            if (copy["metadata"]?["resourceVersion"] is { } rv) only["metadata"] = new JsonObject { ["resourceVersion"] = rv.DeepClone() };
            return only;
        }
        copy.Remove("status");
        return copy;
    }

    /// <summary>The applied fields in managedFields' FieldsV1 shape (<c>{"f:spec":{"f:replicas":{}}}</c>); lists are leaves.</summary>
    private static JsonObject FieldSet(JsonObject applied, string? subresource)
    {
        var set = new JsonObject();
        foreach (var (key, value) in Scope(applied, subresource))
        {
            if (key is "apiVersion" or "kind") continue;
            if (key == "metadata")
            {
                var meta = new JsonObject();
                foreach (var (mk, mv) in value as JsonObject ?? [])
                    if (mk is "labels" or "annotations" or "finalizers" or "ownerReferences") meta["f:" + mk] = Fields(mv);
                if (meta.Count > 0) set["f:metadata"] = meta;
                continue;
            }
            set["f:" + key] = Fields(value);
        }
        return set;
    }

    private static JsonObject Fields(JsonNode? value)
    {
        var set = new JsonObject();
        if (value is JsonObject obj)
            foreach (var (key, child) in obj) set["f:" + key] = Fields(child);
        return set;
    }

    private static IEnumerable<string[]> Leaves(JsonObject set, string[]? prefix = null)
    {
        prefix ??= [];
        foreach (var (key, child) in set)
        {
            if (!key.StartsWith("f:", StringComparison.Ordinal)) continue;
            var path = prefix.Append(key[2..]).ToArray();
            if (child is JsonObject c && c.Count > 0)
                foreach (var leaf in Leaves(c, path)) yield return leaf;
            else
                yield return path;
        }
    }

    private static List<string[]> OwnedPaths(JsonObject live, string manager, string? subresource) =>
        Entries(live).Where(e => IsEntryOf(e, manager, subresource))
            .SelectMany(e => e["fieldsV1"] is JsonObject set ? Leaves(set) : [])
            .ToList();

    private static bool IsEntryOf(JsonObject entry, string manager, string? subresource) =>
        entry["manager"]?.GetValue<string>() == manager
        && entry["operation"]?.GetValue<string>() == "Apply"
        && (entry["subresource"]?.GetValue<string>() ?? "") == (subresource ?? "");

    private static IEnumerable<JsonObject> Entries(JsonObject obj) =>
        (obj["metadata"]?["managedFields"] as JsonArray ?? []).OfType<JsonObject>();

    private static void RemovePath(JsonObject obj, string[] path)
    {
        JsonNode? node = obj;
        foreach (var segment in path[..^1]) node = (node as JsonObject)?[segment];
        (node as JsonObject)?.Remove(path[^1]);
    }

    private static void SetManagedFields(JsonObject result, JsonObject live, string manager, string? subresource,
        string apiVersion, DateTimeOffset now, JsonObject fields)
    {
        var entries = Entries(live).Where(e => !IsEntryOf(e, manager, subresource)).Select(e => e.DeepClone()).ToList();
        var entry = new JsonObject
        {
            ["manager"] = manager,
            ["operation"] = "Apply",
            ["apiVersion"] = apiVersion,
            ["time"] = Timestamps.Format(now),
            ["fieldsType"] = "FieldsV1",
            ["fieldsV1"] = fields,
        };
        if (subresource is not null) entry["subresource"] = subresource;
        entries.Add(entry);
        var metadata = result["metadata"] as JsonObject ?? [];
        result["metadata"] = metadata;
        metadata["managedFields"] = new JsonArray([.. entries]);
    }
}

/// <summary>RFC 3339 timestamps with second precision, as metadata carries them.</summary>
public static class Timestamps
{
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
