using System.Text.Json.Nodes;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

public sealed class MergePatchTests
{
    [TestCase("""{"a":1,"b":{"c":"x","d":[1,2]}}""", """{"a":1,"b":{"c":"x","d":[1,2]}}""", null)]
    [TestCase("""{"a":1}""", """{"a":2}""", """{"a":2}""")]
    [TestCase("""{"a":1,"b":2}""", """{"a":1}""", """{"b":null}""")]
    [TestCase("""{"a":{"x":1,"y":2}}""", """{"a":{"x":1,"y":3}}""", """{"a":{"y":3}}""")]
    [TestCase("""{"list":[1,2,3]}""", """{"list":[1,2]}""", """{"list":[1,2]}""")]
    [TestCase(null, """{"a":1}""", """{"a":1}""")]
    [TestCase(null, "{}", null)]
    [TestCase("""{"a":{"b":1}}""", """{"a":"flat"}""", """{"a":"flat"}""")]
    public void The_patch_holds_only_what_changes_and_applying_it_gives_the_target(string? from, string to, string? expected)
    {
        var changed = MergePatch.TryDiff(Parse(from), Parse(to), out var patch);

        Assert.That(changed, Is.EqualTo(expected is not null));
        if (expected is null)
            return;
        Assert.That(patch!.ToJsonString(), Is.EqualTo(Parse(expected)!.ToJsonString()));
        Assert.That(JsonNode.DeepEquals(Apply(Parse(from), patch), Parse(to)), Is.True, "RFC 7386 application of the patch gives the target");
    }

    private static JsonNode? Parse(string? json) => json is null ? null : JsonNode.Parse(json);

    /// <summary>RFC 7386 section 2, MergePatch(Target, Patch).</summary>
    private static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject members)
            return patch?.DeepClone();
        var result = target as JsonObject ?? [];
        result = (JsonObject)result.DeepClone();
        foreach (var (name, value) in members)
        {
            if (value is null)
                result.Remove(name);
            else
                result[name] = Apply(result[name], value);
        }
        return result;
    }
}
