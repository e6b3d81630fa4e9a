using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class SelectorTests
{
    private static JsonObject Labelled(string labels) => new() { ["metadata"] = new JsonObject { ["name"] = "x", ["labels"] = JsonNode.Parse(labels) } };

    [TestCase("app=web", true)]
    [TestCase("app!=web", false)]
    [TestCase("app in (db, web)", true)]
    [TestCase("app notin (db,web)", false)]
    [TestCase("tier", false)]
    [TestCase("!tier", true)]
    [TestCase("app=web,!tier,zone notin (a)", true)]
    public void Label_requirements(string selector, bool matches) =>
        Assert.That(Selector.Parse(selector, null).Matches(Labelled("""{"app":"web"}""")), Is.EqualTo(matches));

    [Test]
    public void A_field_selector_without_an_operator_is_a_bad_request()
    {
        var error = Assert.Throws<ApiError>(() => Selector.Parse(null, "metadata.name"));

        Assert.That(error!.Code, Is.EqualTo(400));
        Assert.That(error.Message, Does.Contain("metadata.name"));
    }
}
