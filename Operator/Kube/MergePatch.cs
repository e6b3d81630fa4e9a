using System.Text.Json.Nodes;

namespace MiniLb.Operator.Kube;

/// <summary>JSON merge patches (RFC 7386): the smallest patch that turns one document into another.</summary>
public static class MergePatch
{
    /// <summary>
    /// The patch from <paramref name="from"/> to <paramref name="to"/>, or false when they are equal. Members missing
    /// from <paramref name="to"/> become nulls (removals); arrays are replaced whole, as RFC 7386 prescribes.
    /// </summary>
    public static bool TryDiff(JsonNode? from, JsonNode? to, out JsonNode? patch)
    {
        if (to is JsonObject target && from is null or JsonObject)
        {
            var source = from as JsonObject ?? [];
            var result = new JsonObject();
            foreach (var (name, value) in target)
            {
                if (!source.TryGetPropertyValue(name, out var old))
                {
                    if (value is not null)
                        result[name] = value.DeepClone();
                }
                else if (TryDiff(old, value, out var inner))
                {
                    result[name] = inner;
                }
            }
            foreach (var (name, value) in source)
            {
                if (value is not null && !target.ContainsKey(name))
                    result[name] = null;
            }
            patch = result;
            return result.Count > 0;
        }
        patch = to?.DeepClone();
        return !JsonNode.DeepEquals(from, to);
    }
}
