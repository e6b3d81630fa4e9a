using System.Text.Json;
using System.Text.Json.Nodes;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Controllers;

/// <summary>A `minilb run` flag that sets a MiniLbConfig field, as given on the command line (e.g. `--ttl 30` for spec.ttl).</summary>
public sealed record GivenFlag(string Flag, string Value, string Field)
{
    public override string ToString() => $"{Flag} {Value}";
}

/// <summary>
/// Where the configuration in force comes from: the selected MiniLbConfig (which wins over the flags as a whole), or,
/// while none exists or its spec was never applied, the flags of `minilb run` (the CRD's defaults for fields no flag set).
/// </summary>
public static class ConfigSource
{
    /// <summary>The condition reasons: the MiniLbConfig is in force, the flags are, or the defaults are (no flags given).</summary>
    public const string MiniLbConfig = "MiniLbConfig";
    public const string Flags = "Flags";
    public const string Defaults = "Defaults";

    /// <summary>The reason for what is in force now.</summary>
    public static string Reason(AppliedConfig applied, IReadOnlyList<GivenFlag> flags) =>
        applied.Source is not null ? MiniLbConfig : flags.Count > 0 ? Flags : Defaults;

    /// <summary>"the flags --domain lan, --ttl 30", or "the defaults" when none were given.</summary>
    public static string DescribeFlags(IReadOnlyList<GivenFlag> flags) =>
        flags.Count == 0 ? "the defaults" : $"the flag{(flags.Count == 1 ? "" : "s")} {string.Join(", ", flags)}";

    /// <summary>
    /// The given flags whose value the MiniLbConfig's spec does not share, each with the spec's value, e.g.
    /// "--ttl 30 (spec.ttl is 5)"; null when every flag agrees with the spec (the chart passes its values both ways).
    /// Read through the spec's JSON, so a flag added to the table needs nothing here.
    /// </summary>
    public static string? Overridden(MiniLbConfigSpec spec, IReadOnlyList<GivenFlag> flags)
    {
        var json = JsonSerializer.SerializeToNode(spec, EntityJson.Default.MiniLbConfigSpec);
        var differing = flags.Select(f => (Flag: f, InSpec: Render(Lookup(json, f.Field))))
            .Where(f => f.InSpec != f.Flag.Value)
            .Select(f => $"{f.Flag} ({f.Flag.Field} is {f.InSpec})")
            .ToList();
        return differing.Count == 0 ? null : string.Join(", ", differing);
    }

    /// <summary>What a MiniLbConfig in force does to the flags, for the log, /readyz and the ConfigSource condition.</summary>
    public static string OverDescription(MiniLbConfigSpec? spec, IReadOnlyList<GivenFlag> flags) =>
        flags.Count == 0 ? "minilb was started without configuration flags"
        : spec is not null && Overridden(spec, flags) is { } overridden ? $"it overrides these flags of `minilb run`: {overridden}"
        : $"the flags of `minilb run` ({string.Join(", ", flags.Select(f => f.Flag))}) agree with it";

    private static JsonNode? Lookup(JsonNode? node, string field)
    {
        foreach (var name in field.Split('.').Skip(1))
            node = node is JsonObject o ? o[name] : null;
        return node;
    }

    private static string Render(JsonNode? value) => value switch
    {
        null => "unset",
        JsonArray items => items.Count == 0 ? "empty" : string.Join(",", items.Select(i => i?.ToString())),
        JsonValue v when v.TryGetValue<string>(out var text) => text.Length == 0 ? "''" : text,
        _ => value.ToJsonString(),
    };
}
