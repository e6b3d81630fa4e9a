using System.Collections.Immutable;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

public class SliceIndexTests
{
    private static SliceView Slice(string name, string? service, params string[] nodes) => new("shop", name, null, "1")
    {
        ServiceName = service,
        AddressType = "IPv4",
        Endpoints = [.. nodes.Select((n, i) => new EndpointView(ImmutableArray.Create($"10.0.0.{i + 1}"), true, null, null, n, null))],
    };

    [Test]
    public void A_slice_is_found_under_its_Service()
    {
        var index = new SliceIndex();

        Assert.That(index.Upsert(Slice("web-1", "web", "node-a", "node-b")), Is.EqualTo(new[] { "shop/web" }));
        index.Upsert(Slice("web-2", "web", "node-b"));
        index.Upsert(Slice("db-1", "db", "node-c"));

        Assert.That(index.Of("shop/web").Select(s => s.Name), Is.EquivalentTo(new[] { "web-1", "web-2" }));
        Assert.That(index.Of("shop/db").Select(s => s.Name), Is.EquivalentTo(new[] { "db-1" }));
    }

    [Test]
    public void A_Service_keeps_each_of_its_slices_once_through_updates_and_removals()
    {
        var index = new SliceIndex();
        index.Upsert(Slice("web-1", "web", "node-a"));
        index.Upsert(Slice("web-2", "web", "node-b"));
        index.Upsert(Slice("web-3", "web", "node-c"));
        index.Upsert(Slice("web-2", "web", "node-d")); // an update: still one entry

        Assert.That(index.Of("shop/web").Select(s => s.Name), Is.EquivalentTo(new[] { "web-1", "web-2", "web-3" }));
        index.Remove("shop/web-1");
        Assert.That(index.Of("shop/web").Select(s => s.Name), Is.EquivalentTo(new[] { "web-2", "web-3" }));
        index.Remove("shop/web-2");
        index.Remove("shop/web-3");
        Assert.That(index.Of("shop/web"), Is.Empty);
    }

    [Test]
    public void A_slice_that_moves_to_another_Service_touches_both()
    {
        var index = new SliceIndex();
        index.Upsert(Slice("s-1", "web", "node-a"));

        var affected = index.Upsert(Slice("s-1", "api", "node-a"));

        Assert.That(affected, Is.EqualTo(new[] { "shop/web", "shop/api" }));
        Assert.That(index.Of("shop/web"), Is.Empty);
    }

    [Test]
    public void Removing_a_slice_twice_changes_nothing_the_second_time()
    {
        var index = new SliceIndex();
        index.Upsert(Slice("web-1", "web", "node-a", "node-a"));

        Assert.That(index.Remove("shop/web-1"), Is.EqualTo("shop/web"));
        Assert.That(index.Count, Is.Zero);
        Assert.That(index.Remove("shop/web-1"), Is.Null, "removing twice changes nothing");
    }

    [Test]
    public void A_slice_without_a_Service_is_kept_but_touches_no_Service()
    {
        var index = new SliceIndex();

        Assert.That(index.Upsert(Slice("orphan", null, "node-a")), Is.Empty);
        Assert.That(index.Count, Is.EqualTo(1));
    }
}
