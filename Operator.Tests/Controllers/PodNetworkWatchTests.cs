using MiniLb.Operator.Controllers;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Controllers;

/// <summary>
/// The MiniLbConfig reconcile runs after every publish and keeps each slice's findings; what a user sees in
/// RoutesPublished must still follow every change of a slice or a Node.
/// </summary>
public class PodNetworkWatchTests
{
    private static SliceView Slice(params string[] addresses)
    {
        var slice = TestObjects.Slice("default", "web", "web-1", "IPv4", [.. addresses.Select(a => TestObjects.Endpoint(a))]);
        foreach (var endpoint in slice.Endpoints)
            endpoint.NodeName = "node-a";
        return SliceView.From(slice);
    }

    [Test]
    public void A_changed_slice_is_checked_again()
    {
        var watch = new PodNetworkWatch();
        var node = TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]);

        Assert.That(watch.Check([Slice("10.244.0.7")], [node]), Is.Empty);
        Assert.That(watch.Check([Slice("10.244.0.7", "172.16.0.2")], [node]).Select(s => s.Address.ToString()), Is.EqualTo(new[] { "172.16.0.2" }));
    }

    [Test]
    public void A_node_whose_podCIDRs_change_checks_every_slice_again()
    {
        var watch = new PodNetworkWatch();
        var slice = Slice("172.16.0.2");

        Assert.That(watch.Check([slice], [TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"])]), Has.Count.EqualTo(1));
        Assert.That(watch.Check([slice], [TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24", "172.16.0.0/24"])]), Is.Empty,
            "the same slice object, now inside the node's second podCIDR");
        Assert.That(watch.Check([slice], [TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"])]), Has.Count.EqualTo(1));
    }

    [Test]
    public void Kept_findings_equal_a_fresh_check()
    {
        var watch = new PodNetworkWatch();
        var nodes = new[] { TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]) };
        var slices = new[] { Slice("10.244.0.7", "172.16.0.2"), Slice("172.16.0.3") };

        watch.Check(slices, nodes);
        Assert.That(watch.Check(slices, nodes), Is.EqualTo(PodNetworkPreflight.Check(slices, nodes)));
    }
}
