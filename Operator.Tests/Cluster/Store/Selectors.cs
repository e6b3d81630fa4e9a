using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// Label selectors (<c>=</c>, <c>==</c>, <c>!=</c>, <c>in</c>, <c>notin</c>, exists, <c>!</c>exists) and field
/// selectors (<c>=</c>, <c>==</c>, <c>!=</c> on any dotted path; kube-apiserver allows only a few per kind).
/// </summary>
public sealed class Selector
{
    private readonly IReadOnlyList<Func<JsonObject, bool>> _requirements;

    private Selector(IReadOnlyList<Func<JsonObject, bool>> requirements) => _requirements = requirements;

    public static Selector Everything { get; } = new([]);

    public bool Matches(JsonObject obj) => _requirements.All(r => r(obj));

    public static Selector Parse(string? labelSelector, string? fieldSelector)
    {
        var requirements = new List<Func<JsonObject, bool>>();
        foreach (var term in SplitTerms(labelSelector)) requirements.Add(ParseLabel(term));
        foreach (var term in SplitTerms(fieldSelector)) requirements.Add(ParseField(term));
        return requirements.Count == 0 ? Everything : new Selector(requirements);
    }

    /// <summary>Splits on commas outside parentheses (the commas of <c>in (a,b)</c> stay).</summary>
    private static IEnumerable<string> SplitTerms(string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector)) yield break;
        var depth = 0;
        var start = 0;
        for (var i = 0; i <= selector.Length; i++)
        {
            if (i < selector.Length && selector[i] == '(') depth++;
            if (i < selector.Length && selector[i] == ')') depth--;
            if (i == selector.Length || (selector[i] == ',' && depth == 0))
            {
                var term = selector[start..i].Trim();
                if (term.Length > 0) yield return term;
                start = i + 1;
            }
        }
    }

    private static Func<JsonObject, bool> ParseLabel(string term)
    {
        static string? Label(JsonObject o, string key) => o["metadata"]?["labels"]?[key]?.GetValue<string>();
        var setMatch = System.Text.RegularExpressions.Regex.Match(term, @"^(\S+)\s+(in|notin)\s*\((.*)\)$");
        if (setMatch.Success)
        {
            var key = setMatch.Groups[1].Value;
            var values = setMatch.Groups[3].Value.Split(',', StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
            return setMatch.Groups[2].Value == "in"
                ? o => Label(o, key) is { } v && values.Contains(v)
                : o => Label(o, key) is not { } v || !values.Contains(v);
        }
        if (term.StartsWith('!'))
        {
            var key = term[1..].Trim();
            return o => Label(o, key) is null;
        }
        var (k, op, value) = SplitComparison(term, "label");
        if (op is null) return o => Label(o, k) is not null;
        return op == "!=" ? o => Label(o, k) != value : o => Label(o, k) == value;
    }

    private static Func<JsonObject, bool> ParseField(string term)
    {
        var (path, op, value) = SplitComparison(term, "field");
        if (op is null) throw ApiError.BadRequest($"invalid field selector: \"{term}\": an operator is required");
        var segments = path.Split('.');
        string Field(JsonObject o)
        {
            JsonNode? node = o;
            foreach (var segment in segments) node = node is JsonObject obj ? obj[segment] : null;
            return node is JsonValue v ? v.ToString() : "";
        }
        return op == "!=" ? o => Field(o) != value : o => Field(o) == value;
    }

    private static (string Key, string? Op, string Value) SplitComparison(string term, string what)
    {
        foreach (var op in new[] { "!=", "==", "=" })
        {
            var at = term.IndexOf(op, StringComparison.Ordinal);
            if (at > 0) return (term[..at].Trim(), op, term[(at + op.Length)..].Trim());
        }
        if (term.Any(char.IsWhiteSpace)) throw ApiError.BadRequest($"unable to parse requirement: {what} selector \"{term}\"");
        return (term, null, "");
    }
}
