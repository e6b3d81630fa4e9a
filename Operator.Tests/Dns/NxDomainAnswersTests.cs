using System.Diagnostics;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>The NXDOMAIN index across zone versions: carried over, so endpoint churn does not rehash every name.</summary>
public class NxDomainAnswersTests
{
    private static ClusterModel Model(int services)
    {
        var model = new ClusterModel(new ZoneSettings());
        for (var i = 0; i < services; i++)
        {
            model.Upsert(Service($"ns{i % 20}", $"svc{i}"));
            model.Upsert(Slice($"ns{i % 20}", $"svc{i}", $"svc{i}-1", "IPv4", Ready($"10.{i / 250 % 250}.{i % 250}.1", $"10.{i / 250 % 250}.{i % 250}.2")));
        }
        return model;
    }

    private static byte[] Wire(string name) =>
        [.. name.Split('.').SelectMany(label => new[] { (byte)label.Length }.Concat(label.Select(c => (byte)c))), 0];

    [Test]
    public void After_an_endpoint_change_only_the_changed_names_are_hashed_and_answers_follow_the_new_zone()
    {
        var model = Model(50);
        var before = new NxDomainAnswers(model.Publish());
        model.Upsert(Slice("ns0", "svc0", "svc0-1", "IPv4", Ready("10.0.0.1", "10.0.0.3"))); // 10.0.0.2 replaced by 10.0.0.3

        var after = new NxDomainAnswers(model.Publish(), before);

        Assert.That(before.NamesHashed, Is.GreaterThan(150), "the first index hashes every name");
        Assert.That(after.NamesHashed, Is.EqualTo(2), "one endpoint name removed, one added");
        Assert.That(after.IsNotFound(Wire("10-0-0-2.svc0.ns0.minilb"), out _), Is.True, "the replaced endpoint's name is gone");
        Assert.That(after.IsNotFound(Wire("10-0-0-3.svc0.ns0.minilb"), out _), Is.False, "the new one exists");
        Assert.That(after.IsNotFound(Wire("svc1.ns1.minilb"), out _), Is.False, "the others are still there");
        Assert.That(before.IsNotFound(Wire("10-0-0-2.svc0.ns0.minilb"), out _), Is.False, "the previous index, still answering for its zone, is unchanged");
    }

    [Test]
    public void A_version_with_the_same_names_dictionary_hashes_nothing()
    {
        var zone = Model(20).Publish();
        var first = new NxDomainAnswers(zone);

        var again = new NxDomainAnswers(zone, first); // e.g. only an alias changed: the names dictionary is the same

        Assert.That(again.NamesHashed, Is.Zero);
        Assert.That(again.IsNotFound(Wire("svc3.ns3.minilb"), out _), Is.False);
        Assert.That(again.IsNotFound(Wire("nothing.ns3.minilb"), out _), Is.True);
    }

    [Test]
    public void A_new_Service_and_a_removed_one_change_the_index_both_ways()
    {
        var model = Model(20);
        var before = new NxDomainAnswers(model.Publish());
        model.Upsert(Service("extra", "api"));
        model.Upsert(Slice("extra", "api", "api-1", "IPv4", Ready("10.99.0.1")));
        model.Delete(Service("ns3", "svc3"));

        var after = new NxDomainAnswers(model.Publish(), before);

        Assert.That(after.IsNotFound(Wire("api.extra.minilb"), out _), Is.False);
        Assert.That(after.IsNotFound(Wire("svc3.ns3.minilb"), out _), Is.True);
        Assert.That(after.IsNotFound(Wire("svc4.ns4.minilb"), out _), Is.False);
    }

    [Test]
    public void Reverse_zones_are_indexed_and_carried_over_like_the_forward_zone()
    {
        var model = Model(50);
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.0.0.0/24"]));
        model.Upsert(Node("node-b", ["192.168.1.11"], ["10.0.0.0/16"])); // a covering zone around node-a's
        var before = new NxDomainAnswers(model.Publish());
        model.Upsert(Slice("ns0", "svc0", "svc0-1", "IPv4", Ready("10.0.0.1", "10.0.0.3"))); // 10.0.0.2 replaced by 10.0.0.3

        var after = new NxDomainAnswers(model.Publish(), before);

        Assert.That(after.NamesHashed, Is.EqualTo(4), "one endpoint name and one PTR owner removed, one of each added");
        Assert.That(after.IsNotFound(Wire("2.0.0.10.in-addr.arpa"), out var apexOffset), Is.True, "the replaced endpoint's PTR is gone");
        Assert.That(apexOffset, Is.EqualTo(2), "the SOA cites 0.0.10.in-addr.arpa");
        Assert.That(after.IsNotFound(Wire("3.0.0.10.in-addr.arpa"), out _), Is.False, "the new one exists");
        Assert.That(after.IsNotFound(Wire("0.0.10.in-addr.arpa"), out _), Is.False, "the apex");
        Assert.That(after.IsNotFound(Wire("9.5.0.10.in-addr.arpa"), out apexOffset), Is.True, "a missing name in the /16 zone");
        Assert.That(apexOffset, Is.EqualTo(4), "the SOA cites 0.10.in-addr.arpa");
        Assert.That(after.IsNotFound(Wire("1.5.0.10.in-addr.arpa"), out _), Is.False, "svc5's 10.0.5.1");
        Assert.That(after.IsNotFound(Wire("5.0.10.in-addr.arpa"), out _), Is.False, "an empty non-terminal above 10.0.5.1");
        Assert.That(after.IsNotFound(Wire("1.0.2.10.in-addr.arpa"), out _), Is.False, "outside every zone: REFUSED, not NXDOMAIN");
    }

    [Test]
    [Category("Slow")]
    public void Figures_at_10k_Services_full_build_against_carrying_over_after_one_endpoint_change()
    {
        var model = Model(10_000);
        var zone = model.Publish();
        model.Upsert(Slice("ns0", "svc0", "svc0-1", "IPv4", Ready("10.0.0.1", "10.0.0.3")));
        var next = model.Publish();

        // Best of five each, both paths run before (the JIT compiles hot loops twice; the AOT binary does not).
        var full = new NxDomainAnswers(zone);
        var carried = new NxDomainAnswers(next, full);
        TimeSpan Best(Func<NxDomainAnswers> build)
        {
            var best = TimeSpan.MaxValue;
            for (var i = 0; i < 5; i++)
            {
                var clock = Stopwatch.StartNew();
                build();
                best = clock.Elapsed < best ? clock.Elapsed : best;
            }
            return best;
        }
        var fullTime = Best(() => new NxDomainAnswers(zone));
        var carriedTime = Best(() => new NxDomainAnswers(next, full));

        TestContext.Out.WriteLine($"NXDOMAIN index at 10,000 Services ({zone.Names.Count} names): full build {fullTime.TotalMilliseconds:F1} ms " +
            $"({full.NamesHashed} hashed), carried over after one endpoint change {carriedTime.TotalMilliseconds:F1} ms ({carried.NamesHashed} hashed); best of 5");
        Assert.That(carried.NamesHashed, Is.EqualTo(2));
    }
}
