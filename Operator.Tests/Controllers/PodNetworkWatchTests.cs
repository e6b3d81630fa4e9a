using k8s.Models;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Controllers;

/// <summary>
/// The MiniLbConfig reconcile reads findings kept up to date by slice and Node events; what a user sees in
/// RoutesPublished must still follow every change of a slice or a Node, and equal a fresh check of everything.
/// </summary>
public class PodNetworkWatchTests
{
    private readonly Dictionary<string, SliceView> slices = new(StringComparer.Ordinal);
    private readonly List<V1Node> nodes = [TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"])];

    private static SliceView Slice(string name, params string[] addresses)
    {
        var slice = TestObjects.Slice("default", "web", name, "IPv4", [.. addresses.Select(a => TestObjects.Endpoint(a))]);
        foreach (var endpoint in slice.Endpoints)
            endpoint.NodeName = "node-a";
        return SliceView.From(slice);
    }

    private PodNetworkWatch Watch() => new(() => slices.Values, () => nodes);

    /// <summary>As the informer does: the cache first, then the event.</summary>
    private static void Apply(PodNetworkWatch watch, Dictionary<string, SliceView> cache, SliceView? before, SliceView? after)
    {
        var key = (after ?? before)!.Key;
        if (after is null)
            cache.Remove(key);
        else
            cache[key] = after;
        var type = before is null ? InformerEventType.Added : after is null ? InformerEventType.Deleted : InformerEventType.Modified;
        watch.Observe(new InformerEvent<SliceView>(type, before, after));
    }

    private static string[] Addresses(IEnumerable<StrayPodAddress> stray) => [.. stray.Select(s => s.Address.ToString())];

    [Test]
    public void A_changed_slice_is_checked_again()
    {
        var watch = Watch();
        var clean = Slice("web-1", "10.244.0.7");
        Apply(watch, slices, null, clean);
        Assert.That(watch.Findings, Is.Empty);

        var stray = Slice("web-1", "10.244.0.7", "172.16.0.2");
        Apply(watch, slices, clean, stray);
        Assert.That(Addresses(watch.Findings), Is.EqualTo(new[] { "172.16.0.2" }));

        Apply(watch, slices, stray, Slice("web-1", "10.244.0.8"));
        Assert.That(watch.Findings, Is.Empty, "the stray address left the slice");
    }

    [Test]
    public void A_deleted_slice_takes_its_findings_along()
    {
        var watch = Watch();
        var stray = Slice("web-1", "172.16.0.2");
        Apply(watch, slices, null, stray);
        Assert.That(watch.Findings, Has.Count.EqualTo(1));

        Apply(watch, slices, stray, null);
        Assert.That(watch.Findings, Is.Empty);
    }

    [Test]
    public void A_node_whose_podCIDRs_change_checks_every_slice_again()
    {
        var watch = Watch();
        Apply(watch, slices, null, Slice("web-1", "172.16.0.2"));
        Assert.That(watch.Findings, Has.Count.EqualTo(1));

        nodes[0] = TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24", "172.16.0.0/24"]);
        Assert.That(watch.Findings, Has.Count.EqualTo(1), "nothing re-checked before the Node event arrives");
        watch.NodesChanged();
        Assert.That(watch.Findings, Is.Empty, "the same slice, now inside the node's second podCIDR");

        nodes[0] = TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]);
        watch.NodesChanged();
        Assert.That(watch.Findings, Has.Count.EqualTo(1));
    }

    [Test]
    public void Kept_findings_equal_a_fresh_check_after_any_sequence_of_changes()
    {
        var watch = Watch();
        var random = new Random(7);
        for (var step = 0; step < 200; step++)
        {
            var name = $"web-{random.Next(6)}";
            slices.TryGetValue($"default/{name}", out var before);
            var after = random.Next(5) == 0
                ? null
                : Slice(name, [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(3) == 0 ? $"172.16.0.{random.Next(1, 250)}" : $"10.244.0.{random.Next(1, 250)}")]);
            if (before is null && after is null)
                continue;
            Apply(watch, slices, before, after);
            if (step % 50 == 25)
            {
                nodes[0] = TestObjects.Node("node-a", ["192.168.1.11"], step % 100 == 25 ? ["10.244.0.0/24", "172.16.0.0/25"] : ["10.244.0.0/24"]);
                watch.NodesChanged();
            }
            if (step % 3 == 0)
                Assert.That(watch.Findings, Is.EqualTo(PodNetworkPreflight.Check(slices.Values.OrderBy(s => s.Key, StringComparer.Ordinal), nodes)), $"step {step}");
        }
    }
}
