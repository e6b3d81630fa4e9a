using System.Globalization;
using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>The patch formats of the PATCH verb, applied to a copy of the stored object.</summary>
public static class Patches
{
    /// <summary>RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces.</summary>
    public static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target as JsonObject ?? new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null) result.Remove(key);
            else result[key] = Merge(result[key]?.DeepClone(), value);
        }
        return result;
    }

    /// <summary>
    /// Strategic merge patch, simplified: a merge patch whose <c>$</c> directives are honoured for lists of
    /// objects with a merge key (<c>$setElementOrder</c>, <c>$patch: delete</c>, <c>$retainKeys</c> ignored),
    /// so that kubectl's patches of containers or ports update elements instead of replacing the list.
    /// </summary>
    public static JsonNode? Strategic(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target as JsonObject ?? new JsonObject();
        if (patchObject["$patch"]?.GetValue<string>() == "replace")
        {
            var replaced = (JsonObject)patchObject.DeepClone();
            replaced.Remove("$patch");
            return replaced;
        }
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith('$')) continue;
            if (value is null) { result.Remove(key); continue; }
            if (value is JsonArray list && result[key] is JsonArray live && MergeKey(list, live) is { } mergeKey)
                result[key] = MergeList(live, list, mergeKey, patchObject[$"$setElementOrder/{key}"] as JsonArray);
            else
                result[key] = Strategic(result[key]?.DeepClone(), value);
        }
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal) && value is JsonArray removed
                && result[key["$deleteFromPrimitiveList/".Length..]] is JsonArray primitives)
            {
                var drop = removed.Select(r => r?.ToJsonString()).ToHashSet();
                foreach (var item in primitives.Where(p => drop.Contains(p?.ToJsonString())).ToList()) primitives.Remove(item);
            }
        }
        return result;
    }

    private static readonly string[] KnownMergeKeys = ["name", "containerPort", "port", "mountPath", "devicePath", "ip", "type", "topologyKey"];

    private static string? MergeKey(JsonArray patch, JsonArray live)
    {
        if (patch.Count == 0 || patch.Any(p => p is not JsonObject)) return null;
        if (live.Any(l => l is not JsonObject)) return null;
        return KnownMergeKeys.FirstOrDefault(k => patch.All(p => p![k] is not null) && live.All(l => l![k] is not null));
    }

    private static JsonArray MergeList(JsonArray live, JsonArray patch, string mergeKey, JsonArray? order)
    {
        static string KeyOf(JsonNode? item, string mergeKey) => item![mergeKey]!.ToJsonString();
        var merged = live.Select(i => i!.DeepClone()).ToList();
        foreach (var element in patch.OfType<JsonObject>())
        {
            var key = KeyOf(element, mergeKey);
            var at = merged.FindIndex(m => KeyOf(m, mergeKey) == key);
            if (element["$patch"]?.GetValue<string>() == "delete")
            {
                if (at >= 0) merged.RemoveAt(at);
                continue;
            }
            if (at >= 0) merged[at] = Strategic(merged[at], element)!;
            else merged.Add(Strategic(new JsonObject(), element)!);
        }
        if (order is not null)
        {
            var rank = order.Select((o, i) => (o is JsonObject ob && ob[mergeKey] is { } k ? k.ToJsonString() : "", i))
                .GroupBy(p => p.Item1).ToDictionary(g => g.Key, g => g.First().i);
            merged = [.. merged.OrderBy(m => rank.TryGetValue(KeyOf(m, mergeKey), out var r) ? r : int.MaxValue)];
        }
        return new JsonArray([.. merged]);
    }

    /// <summary>RFC 6902 JSON patch: add, remove, replace, move, copy, test.</summary>
    public static JsonNode? Json(JsonNode? target, JsonNode? patch, Func<string, ApiError> invalid)
    {
        if (patch is not JsonArray operations) throw invalid("a JSON patch must be an array of operations");
        var document = target?.DeepClone();
        foreach (var operation in operations)
        {
            var op = operation?["op"]?.GetValue<string>() ?? throw invalid("a JSON patch operation needs \"op\"");
            var path = operation["path"]?.GetValue<string>() ?? throw invalid($"the \"{op}\" operation needs \"path\"");
            switch (op)
            {
                case "add": document = Add(document, path, operation["value"]?.DeepClone(), invalid); break;
                case "remove": document = Remove(document, path, invalid).Document; break;
                case "replace":
                    document = Remove(document, path, invalid).Document;
                    document = Add(document, path, operation["value"]?.DeepClone(), invalid);
                    break;
                case "move":
                    {
                        var from = operation["from"]?.GetValue<string>() ?? throw invalid("the \"move\" operation needs \"from\"");
                        var (afterRemove, moved) = Remove(document, from, invalid);
                        document = Add(afterRemove, path, moved, invalid);
                        break;
                    }
                case "copy":
                    {
                        var from = operation["from"]?.GetValue<string>() ?? throw invalid("the \"copy\" operation needs \"from\"");
                        document = Add(document, path, Resolve(document, from, invalid)?.DeepClone(), invalid);
                        break;
                    }
                case "test":
                    if (!JsonNode.DeepEquals(Resolve(document, path, invalid), operation["value"]))
                        throw invalid($"the \"test\" operation failed at {path}");
                    break;
                default: throw invalid($"unknown JSON patch operation \"{op}\"");
            }
        }
        return document;
    }

    private static string[] Pointer(string path) =>
        path.Length == 0 ? [] : path[1..].Split('/').Select(s => s.Replace("~1", "/").Replace("~0", "~")).ToArray();

    private static JsonNode? Resolve(JsonNode? document, string path, Func<string, ApiError> invalid) =>
        Walk(document, Pointer(path), path, invalid);

    /// <summary>Follows pointer segments; a missing step is an error naming the whole path.</summary>
    private static JsonNode? Walk(JsonNode? document, IEnumerable<string> segments, string path, Func<string, ApiError> invalid)
    {
        var node = document;
        foreach (var segment in segments)
        {
            node = node switch
            {
                JsonObject o when o.ContainsKey(segment) => o[segment],
                JsonArray a when int.TryParse(segment, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw invalid($"the path {path} does not exist"),
            };
        }
        return node;
    }

    private static JsonNode? Add(JsonNode? document, string path, JsonNode? value, Func<string, ApiError> invalid)
    {
        var segments = Pointer(path);
        if (segments.Length == 0) return value;
        var parent = Walk(document, segments[..^1], path, invalid);
        var last = segments[^1];
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, CultureInfo.InvariantCulture, out var i) && i >= 0 && i <= a.Count: a.Insert(i, value); break;
            default: throw invalid($"cannot add at {path}");
        }
        return document;
    }

    private static (JsonNode? Document, JsonNode? Removed) Remove(JsonNode? document, string path, Func<string, ApiError> invalid)
    {
        var segments = Pointer(path);
        if (segments.Length == 0) return (null, document);
        var parent = Walk(document, segments[..^1], path, invalid);
        var last = segments[^1];
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                {
                    var removed = o[last];
                    o.Remove(last);
                    return (document, removed);
                }
            case JsonArray a when int.TryParse(last, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < a.Count:
                {
                    var removed = a[i];
                    a.RemoveAt(i);
                    return (document, removed);
                }
            default: throw invalid($"the path {path} does not exist");
        }
    }
}
