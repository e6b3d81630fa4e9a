using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>The responder without sockets: a pure function of query, zone and random source.</summary>
public class ResponderUnitTests
{
    private static readonly MiniLb.Operator.Resolution.Zone Zone = Build();

    private static MiniLb.Operator.Resolution.Zone Build()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "w", "IPv4", Ready([.. Enumerable.Range(1, 20).Select(i => $"10.244.0.{i}")])));
        return model.Publish();
    }

    private static DnsMessage Query(string name, RecordType type = RecordType.A)
    {
        var query = new DnsMessage { IsQuery = true };
        query.Questions.Add(new DnsQuestion(DomainName.Parse(name), type, RecordClass.INet));
        return query;
    }

    private static string Order(DnsMessage response) => string.Join(",", response.AnswerRecords.OfType<ARecord>().Select(a => a.Address));

    [Test]
    public void The_same_seed_gives_the_same_order_and_another_seed_another()
    {
        var first = Order(new Responder(new Random(7)).Respond(Query("web.default.minilb"), Zone)!);
        var again = Order(new Responder(new Random(7)).Respond(Query("web.default.minilb"), Zone)!);
        var other = Order(new Responder(new Random(8)).Respond(Query("web.default.minilb"), Zone)!);

        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public void A_response_is_never_answered()
    {
        var response = Query("web.default.minilb");
        response.IsQuery = false;

        Assert.That(new Responder().Respond(response, Zone), Is.Null);
    }

    [Test]
    public void The_answer_comes_from_the_zone_it_is_given()
    {
        var responder = new Responder(new Random(1));
        var empty = MiniLb.Operator.Resolution.Zone.Empty(new ZoneSettings());

        Assert.That(responder.Respond(Query("web.default.minilb"), Zone)!.AnswerRecords, Has.Count.EqualTo(20));
        Assert.That(responder.Respond(Query("web.default.minilb"), empty)!.ReturnCode, Is.EqualTo(ReturnCode.NxDomain));
    }

    [Test]
    public void A_PTR_is_answered_only_while_a_node_podCIDR_holds_the_address()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.244.0.7")));
        var withoutNode = model.Publish();
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.244.0.0/24"]));
        var withNode = model.Publish();
        var responder = new Responder(new Random(1));

        var refused = responder.Respond(Query("7.0.244.10.in-addr.arpa", RecordType.Ptr), withoutNode)!;
        var answered = responder.Respond(Query("7.0.244.10.in-addr.arpa", RecordType.Ptr), withNode)!;

        Assert.That(refused.ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That(answered.IsAuthoritiveAnswer, Is.True);
        Assert.That(answered.AnswerRecords.OfType<PtrRecord>().Select(p => (p.Name.ToString(false), p.PointerDomainName.ToString(false))),
            Is.EqualTo(new[] { ("7.0.244.10.in-addr.arpa", "web.default.minilb") }));
    }
}
