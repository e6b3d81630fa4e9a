using System.Collections.Immutable;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

public class EndpointNodesTests
{
    private static SliceView Slice(params (string Node, bool Ready)[] endpoints) => new("shop", "s", null, "1")
    {
        ServiceName = "web",
        AddressType = "IPv4",
        Endpoints = [.. endpoints.Select((e, i) => new EndpointView(ImmutableArray.Create($"10.0.0.{i + 1}"), e.Ready, null, null, e.Node, null))],
    };

    [Test]
    public void A_served_Service_is_found_on_the_nodes_of_its_ready_endpoints_only()
    {
        var index = new EndpointNodes();

        index.Set("shop/web", [Slice(("node-a", true), ("node-b", false)), Slice(("node-c", true), ("node-a", true))]);
        index.Set("shop/db", [Slice(("node-c", true))]);

        Assert.That(index.ServicesOn("node-a"), Is.EquivalentTo(new[] { "shop/web" }));
        Assert.That(index.ServicesOn("node-b"), Is.Empty, "a node with only an unready endpoint changes no answer when it dies");
        Assert.That(index.ServicesOn("node-c"), Is.EquivalentTo(new[] { "shop/web", "shop/db" }));
    }

    [Test]
    public void Setting_again_moves_a_Service_and_forgetting_it_forgets_its_nodes()
    {
        var index = new EndpointNodes();
        index.Set("shop/web", [Slice(("node-a", true))]);

        index.Set("shop/web", [Slice(("node-b", true))]);
        Assert.That(index.ServicesOn("node-a"), Is.Empty);
        Assert.That(index.ServicesOn("node-b"), Is.EquivalentTo(new[] { "shop/web" }));

        index.Forget("shop/web");
        Assert.That(index.ServicesOn("node-b"), Is.Empty);
        Assert.That(index.NodeCount, Is.Zero);
        index.Forget("shop/web"); // twice: nothing to do
        index.Set("shop/web", [Slice(("", true), ("node-c", false))]);
        Assert.That(index.NodeCount, Is.Zero, "endpoints without a node, or not ready, place the Service nowhere");
    }
}
