using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class YamlTests
{
    [Test]
    public void Plain_scalars_take_their_types_and_quoted_ones_stay_strings()
    {
        var json = Yaml.ToJson("""
            a: 1
            b: "1"
            c: true
            d: ~
            e: [x, 2.5]
            """);

        Assert.That(JsonNode.DeepEquals(json, JsonNode.Parse("""{"a":1,"b":"1","c":true,"d":null,"e":["x",2.5]}""")), Is.True, json!.ToJsonString());
    }
}
