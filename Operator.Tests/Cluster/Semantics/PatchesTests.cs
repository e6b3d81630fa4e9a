using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class PatchesTests
{
    private static JsonNode Parse(string json) => JsonNode.Parse(json)!;

    private static ApiError Invalid(string why) => new(422, "Invalid", why);

    [Test]
    public void A_merge_patch_merges_objects_deletes_nulls_and_replaces_lists()
    {
        var result = Patches.Merge(Parse("""{"a":{"b":1,"c":2},"list":[1,2],"gone":true}"""), Parse("""{"a":{"c":3},"list":[9],"gone":null}"""));

        Assert.That(JsonNode.DeepEquals(result, Parse("""{"a":{"b":1,"c":3},"list":[9]}""")), Is.True, result!.ToJsonString());
    }

    [Test]
    public void A_json_patch_runs_every_operation_in_order()
    {
        var result = Patches.Json(Parse("""{"a":[1,2],"b":{"c":"x"}}"""), Parse("""
            [{"op":"add","path":"/a/-","value":3},{"op":"replace","path":"/b/c","value":"y"},{"op":"copy","from":"/b","path":"/d"},
             {"op":"move","from":"/a/0","path":"/first"},{"op":"remove","path":"/b"},{"op":"test","path":"/d/c","value":"y"}]
            """), Invalid);

        Assert.That(JsonNode.DeepEquals(result, Parse("""{"a":[2,3],"d":{"c":"y"},"first":1}""")), Is.True, result!.ToJsonString());
    }

    [Test]
    public void A_failing_json_patch_test_or_a_missing_path_is_an_error_naming_the_path()
    {
        var test = Assert.Throws<ApiError>(() => Patches.Json(Parse("""{"a":1}"""), Parse("""[{"op":"test","path":"/a","value":2}]"""), Invalid));
        var missing = Assert.Throws<ApiError>(() => Patches.Json(Parse("""{"a":1}"""), Parse("""[{"op":"remove","path":"/b/c"}]"""), Invalid));

        Assert.That(test!.Message, Does.Contain("/a"));
        Assert.That(missing!.Message, Does.Contain("/b/c"));
    }

    [Test]
    public void A_strategic_merge_patch_deletes_list_elements_by_key_and_keeps_the_given_order()
    {
        var live = Parse("""{"ports":[{"name":"a","port":1},{"name":"b","port":2},{"name":"c","port":3}]}""");
        var patch = Parse("""
            {"$setElementOrder/ports":[{"name":"c"},{"name":"a"}],"ports":[{"name":"b","$patch":"delete"},{"name":"c","port":30}]}
            """);

        var result = Patches.Strategic(live, patch);

        Assert.That(JsonNode.DeepEquals(result, Parse("""{"ports":[{"name":"c","port":30},{"name":"a","port":1}]}""")), Is.True, result!.ToJsonString());
    }
}
