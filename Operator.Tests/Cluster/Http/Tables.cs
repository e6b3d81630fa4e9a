using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// Server-side printing: the <c>meta.k8s.io/v1</c> Table that <c>kubectl get</c> asks for
/// (<c>Accept: application/json;as=Table;v=v1;g=meta.k8s.io</c>). CRDs get Name plus their printer columns
/// (or Age when they declare none); built-in kinds get Name, a few columns of their own, and Age.
/// </summary>
public static class Tables
{
    public static bool Wanted(string? accept) =>
        accept is not null && accept.Split(',').FirstOrDefault()?.Contains("as=Table", StringComparison.Ordinal) == true;

    public static JsonObject From(Target target, JsonObject listOrObject, string? includeObject, DateTimeOffset now)
    {
        var isList = listOrObject["items"] is JsonArray;
        var items = isList ? ((JsonArray)listOrObject["items"]!).OfType<JsonObject>().ToList() : [listOrObject];
        var columns = target.Type.Version(target.Version)?.Columns is { Count: > 0 } declared
            ? declared
            : [new PrinterColumn("Age", "date", ".metadata.creationTimestamp", Description: "CreationTimestamp is a timestamp representing the server time when this object was created.")];
        var definitions = new JsonArray(new JsonObject
        {
            ["name"] = "Name", ["type"] = "string", ["format"] = "name", ["description"] = "Name must be unique within a namespace.", ["priority"] = 0,
        });
        foreach (var column in columns)
        {
            definitions.Add(new JsonObject
            {
                ["name"] = column.Name, ["type"] = column.Type, ["format"] = column.Format, ["description"] = column.Description, ["priority"] = column.Priority,
            });
        }
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var cells = new JsonArray(JsonValue.Create(item["metadata"]?["name"]?.GetValue<string>()));
            foreach (var column in columns) cells.Add(Cell(item, column, now));
            var row = new JsonObject { ["cells"] = cells };
            if (includeObject != "None") row["object"] = includeObject == "Object" ? item.DeepClone() : PartialMetadata(item);
            rows.Add(row);
        }
        var metadata = isList ? listOrObject["metadata"]!.DeepClone() : new JsonObject { ["resourceVersion"] = listOrObject["metadata"]?["resourceVersion"]?.DeepClone() };
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = metadata,
            ["columnDefinitions"] = definitions,
            ["rows"] = rows,
        };
    }

    public static JsonObject PartialMetadata(JsonObject item) => new()
    {
        ["kind"] = "PartialObjectMetadata",
        ["apiVersion"] = "meta.k8s.io/v1",
        ["metadata"] = item["metadata"]?.DeepClone(),
    };

    private static JsonNode? Cell(JsonObject item, PrinterColumn column, DateTimeOffset now)
    {
        var value = Evaluate(item, column.JsonPath);
        if (value is null) return null;
        return column.Type switch
        {
            "date" when value is JsonValue v && v.TryGetValue<string>(out var text)
                && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) => Age(now - at),
            "string" when value is JsonValue v && v.GetValueKind() == JsonValueKind.String => value.DeepClone(),
            "string" => value.ToJsonString(),
            _ => value.DeepClone(),
        };
    }

    /// <summary>
    /// The JSONPath of printer columns: <c>.spec.a.b</c>, <c>.status.list[0].x</c>, <c>.status.list[*].x</c>,
    /// <c>.status.conditions[?(@.type=="Ready")].status</c>, <c>{.spec.a}</c>. Like kube-apiserver's table
    /// convertor for custom resources, a path matching several values gives the first.
    /// </summary>
    public static JsonNode? Evaluate(JsonNode root, string path)
    {
        IEnumerable<JsonNode> nodes = [root];
        var text = path.Trim().TrimStart('{').TrimEnd('}');
        var at = 0;
        while (at < text.Length)
        {
            if (text[at] == '.')
            {
                var next = text.IndexOfAny(['.', '['], at + 1);
                var name = text[(at + 1)..(next < 0 ? text.Length : next)];
                at = next < 0 ? text.Length : next;
                if (name.Length > 0)
                    nodes = nodes.Select(n => (n as JsonObject)?[name]).OfType<JsonNode>().ToList();
            }
            else if (text[at] == '[')
            {
                var close = Closing(text, at);
                var inner = text[(at + 1)..close];
                at = close + 1;
                nodes = nodes.SelectMany(n => Select(n, inner)).ToList();
            }
            else
            {
                return null;
            }
        }
        return nodes.FirstOrDefault();
    }

    private static int Closing(string text, int open)
    {
        var quoted = false;
        for (var i = open + 1; i < text.Length; i++)
        {
            if (text[i] == '"') quoted = !quoted;
            else if (text[i] == ']' && !quoted) return i;
        }
        return text.Length - 1;
    }

    /// <summary><c>*</c>, an index, or a filter <c>?(@.field.path=="value")</c> (also <c>!=</c> and single quotes).</summary>
    private static IEnumerable<JsonNode> Select(JsonNode node, string selector)
    {
        if (node is not JsonArray array) return [];
        var items = array.OfType<JsonNode>();
        if (selector == "*") return items;
        if (int.TryParse(selector, CultureInfo.InvariantCulture, out var index))
            return index >= 0 && index < array.Count && array[index] is { } item ? [item] : [];
        var filter = selector.Trim();
        if (!filter.StartsWith("?(", StringComparison.Ordinal) || !filter.EndsWith(')')) return [];
        filter = filter[2..^1];
        var negate = filter.Contains("!=", StringComparison.Ordinal);
        var parts = filter.Split(negate ? "!=" : "==", 2);
        if (parts.Length != 2 || !parts[0].Trim().StartsWith('@')) return [];
        var field = parts[0].Trim()[1..];
        var expected = parts[1].Trim().Trim('"', '\'');
        return items.Where(i => (Evaluate(i, field) is JsonValue v && v.ToString() == expected) != negate);
    }

    /// <summary>kube's HumanDuration: "45s", "3m20s", "5h", "3d4h".</summary>
    public static string Age(TimeSpan age)
    {
        if (age < TimeSpan.FromSeconds(-1)) return "<invalid>";
        if (age < TimeSpan.Zero) return "0s";
        var seconds = (long)age.TotalSeconds;
        var minutes = (long)age.TotalMinutes;
        var hours = (long)age.TotalHours;
        if (seconds < 120) return $"{seconds}s";
        if (minutes < 10) return seconds % 60 == 0 ? $"{minutes}m" : $"{minutes}m{seconds % 60}s";
        if (minutes < 180) return $"{minutes}m";
        if (hours < 8) return minutes % 60 == 0 ? $"{hours}h" : $"{hours}h{minutes % 60}m";
        if (hours < 48) return $"{hours}h";
        if (hours < 24 * 8) return hours % 24 == 0 ? $"{hours / 24}d" : $"{hours / 24}d{hours % 24}h";
        if (hours < 24 * 365 * 2) return $"{hours / 24}d";
        return $"{hours / 24 / 365}y{hours / 24 % 365}d";
    }
}
