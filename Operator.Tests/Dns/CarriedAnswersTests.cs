using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>
/// The fast path across zone versions: what it learned is kept for the names a change did not touch (and still says
/// byte for byte what the slow path says, the new SOA serial included), never for a name that changed.
/// </summary>
public class CarriedAnswersTests
{
    private ClusterModel model = null!;
    private Zone zone = null!;
    private PreparedAnswers answers = null!;
    private TestDnsServer reference = null!;

    [SetUp]
    public void Start()
    {
        model = new ClusterModel(new ZoneSettings());
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.244.0.0/24"]));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));
        model.Upsert(Service("default", "api"));
        model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready("10.244.0.21")));
        zone = model.Publish();
        answers = new PreparedAnswers(zone);
        reference = TestDnsServer.Start(zone, new DnsHostOptions { FastPath = false });
    }

    [TearDown]
    public async Task Stop() => await reference.DisposeAsync();

    [Test]
    public async Task Answers_of_names_a_change_did_not_touch_are_replayed_after_it_with_the_new_serial()
    {
        // An address, a NODATA (with the SOA), the apex's SOA, a PTR.
        byte[][] queries = [Query("web.default.minilb"), Query("web.default.minilb", RecordType.Aaaa), Query("minilb", RecordType.Soa), Query("11.0.244.10.in-addr.arpa", RecordType.Ptr)];
        foreach (var query in queries)
            await LearnAsync(query);

        model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready("10.244.0.22"))); // another Service changes
        var before = zone.Serial;
        Publish();

        Assert.That(zone.Serial, Is.GreaterThan(before));
        foreach (var query in queries)
        {
            Assert.That(Ask(query, out var answer), Is.EqualTo(PreparedAnswers.Outcome.Answered), Describe(query) + " is still replayed");
            PreparedAnswersTests.AssertSame(answer, await reference.UdpAsync(query), Describe(query));
        }
    }

    [Test]
    public async Task A_query_that_read_the_zone_before_a_swap_does_not_take_the_fast_path_back_to_it()
    {
        var query = Query("web.default.minilb", RecordType.Aaaa); // NODATA: it carries the serial
        await LearnAsync(query);
        var old = zone;
        model.Upsert(Slice("default", "api", "api-1", "IPv4", Ready("10.244.0.22")));
        Publish();
        Assert.That(Ask(query, out _), Is.EqualTo(PreparedAnswers.Outcome.Answered));

        Assert.That(Ask(query, out var late, asOf: old), Is.EqualTo(PreparedAnswers.Outcome.Answered), "answered from the newer table");
        PreparedAnswersTests.AssertSame(late, await reference.UdpAsync(query), "the newer zone's answer");
        Assert.That(Ask(query, out _), Is.EqualTo(PreparedAnswers.Outcome.Answered), "the newer zone's table is still in place");
    }

    [Test]
    public async Task A_changed_name_is_never_replayed_from_before_the_change()
    {
        var service = Query("web.default.minilb");
        var endpoint = Query("10-244-0-11.web.default.minilb");
        var pointer = Query("11.0.244.10.in-addr.arpa", RecordType.Ptr);
        foreach (var query in new[] { service, endpoint, pointer })
            await LearnAsync(query);

        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.12"))); // web's endpoint moves
        Publish();

        Assert.That(Ask(service, out _), Is.EqualTo(PreparedAnswers.Outcome.Learnable), "web's old addresses are gone from the fast path");
        foreach (var query in new[] { service, endpoint, pointer })
        {
            // Whatever the fast path answers now (the NXDOMAIN index may), it is the new zone's answer.
            if (Ask(query, out var answer) == PreparedAnswers.Outcome.Answered)
                PreparedAnswersTests.AssertSame(answer, await reference.UdpAsync(query), Describe(query));
        }
        var relearned = DnsMessage.Parse(await LearnAsync(service));
        Assert.That(relearned.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EqualTo(new[] { "10.244.0.12" }));
    }

    [Test]
    public async Task A_name_added_or_removed_flips_NXDOMAIN_on_the_fast_path()
    {
        var added = Query("new.default.minilb");
        var removed = Query("web.default.minilb");
        await LearnAsync(removed);
        Ask(Query("first.default.minilb"), out _); // starts building the NXDOMAIN index, off the query path
        await answers.NxDomainBuiltAsync(zone).WaitAsync(TestDnsServer.Patience);
        await LearnAsync(Query("nothing.default.minilb")); // teaches the NXDOMAIN shape
        Assert.That(Ask(added, out _), Is.EqualTo(PreparedAnswers.Outcome.Answered), "NXDOMAIN before the Service exists");

        model.Upsert(Service("default", "new"));
        model.Upsert(Slice("default", "new", "new-1", "IPv4", Ready("10.244.0.31")));
        model.Delete(Service("default", "web"));
        Publish();

        Assert.That(Ask(added, out _), Is.EqualTo(PreparedAnswers.Outcome.Learnable), "the new Service is no longer NXDOMAIN");
        var answer = DnsMessage.Parse(await LearnAsync(added));
        Assert.That(answer.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EqualTo(new[] { "10.244.0.31" }));
        Assert.That(Ask(removed, out var gone), Is.EqualTo(PreparedAnswers.Outcome.Answered), "the removed Service is NXDOMAIN at once, from the carried index");
        PreparedAnswersTests.AssertSame(gone, await reference.UdpAsync(removed), "web after its removal");
        Assert.That(DnsMessage.Parse(gone).ReturnCode, Is.EqualTo(ReturnCode.NxDomain));
    }

    [Test]
    public async Task New_settings_drop_every_learned_answer()
    {
        var query = Query("web.default.minilb");
        await LearnAsync(query);

        // New settings rebuild the model (ZoneFeed.Reconfigure): its zone is traced back to nothing.
        model = new ClusterModel(new ZoneSettings { Ttl = 60 });
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));
        Publish();

        Assert.That(Ask(query, out _), Is.EqualTo(PreparedAnswers.Outcome.Learnable));
        Assert.That(answers.Count, Is.Zero);
        Assert.That(DnsMessage.Parse(await LearnAsync(query)).AnswerRecords.Single().TimeToLive, Is.EqualTo(60));
    }

    [Test]
    public async Task A_new_wildcard_drops_the_learned_answers_it_could_cover()
    {
        var covered = Query("x.shop.default.minilb");
        await LearnAsync(Query("web.default.minilb"));
        Assert.That(DnsMessage.Parse(await LearnAsync(covered)).ReturnCode, Is.EqualTo(ReturnCode.NxDomain));

        model.Upsert(Ingress("default", "shop", ["*.shop.default.minilb"], "api.default.minilb"));
        Publish();

        Assert.That(Ask(covered, out _), Is.EqualTo(PreparedAnswers.Outcome.Learnable), "the NXDOMAIN from before the wildcard is not replayed");
        Assert.That(answers.Count, Is.Zero, "a wildcard may cover any name: nothing learned is kept");
        var now = DnsMessage.Parse(await LearnAsync(covered));
        Assert.That(now.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()), Is.EqualTo(new[] { "10.244.0.21" }));
    }

    private static byte[] Query(string name, RecordType type = RecordType.A) => RawQuery.Build(name, type, edns: new RawQuery.Edns());

    private static string Describe(byte[] query)
    {
        var question = DnsMessage.Parse(query).Questions[0];
        return $"{question.Name} {question.RecordType}";
    }

    private void Publish()
    {
        zone = model.Publish();
        reference.Zones.Swap(zone);
    }

    private PreparedAnswers.Outcome Ask(byte[] query, out byte[] answer, Zone? asOf = null)
    {
        var output = new byte[4096];
        var outcome = answers.TryAnswer(query, WireMessage.Read(query), asOf ?? zone, output, output.Length, new byte[PreparedAnswers.MaxKeyLength], out var length, out _);
        answer = output[..length];
        return outcome;
    }

    /// <summary>The slow path's answer, taught to the fast path, which must then replay it.</summary>
    private async Task<byte[]> LearnAsync(byte[] query)
    {
        var key = new byte[PreparedAnswers.MaxKeyLength];
        var output = new byte[4096];
        Assert.That(answers.TryAnswer(query, WireMessage.Read(query), zone, output, output.Length, key, out _, out var keyLength), Is.EqualTo(PreparedAnswers.Outcome.Learnable), Describe(query) + " is new to the fast path");
        var expected = (await reference.UdpAsync(query))!;
        answers.Learn(key[..keyLength], zone, expected);
        if (DnsMessage.Parse(expected).ReturnCode != ReturnCode.NxDomain)
        {
            Assert.That(Ask(query, out var replayed), Is.EqualTo(PreparedAnswers.Outcome.Answered), Describe(query) + " is learned");
            PreparedAnswersTests.AssertSame(replayed, expected, Describe(query) + " replayed");
        }
        return expected;
    }
}
