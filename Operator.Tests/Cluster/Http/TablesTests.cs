using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class TablesTests
{
    [TestCase(30, "30s")]
    [TestCase(150, "2m30s")]
    [TestCase(3600, "60m")]
    [TestCase(5 * 3600 + 60, "5h1m")]
    [TestCase(3 * 86400 + 3600, "3d1h")]
    public void Ages_read_like_kubectl(int seconds, string shown) =>
        Assert.That(Tables.Age(TimeSpan.FromSeconds(seconds)), Is.EqualTo(shown));

    [Test]
    public void Printer_column_paths_reach_into_lists()
    {
        var obj = JsonNode.Parse("""{"status":{"loadBalancer":{"ingress":[{"hostname":"web.default.minilb"}]}}}""")!;

        Assert.That(Tables.Evaluate(obj, ".status.loadBalancer.ingress[0].hostname")?.GetValue<string>(), Is.EqualTo("web.default.minilb"));
        Assert.That(Tables.Evaluate(obj, ".status.missing"), Is.Null);
    }
}
