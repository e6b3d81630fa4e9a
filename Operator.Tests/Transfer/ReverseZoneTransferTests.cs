using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Transfer;
using static MiniLb.Operator.Tests.TestObjects;
using static MiniLb.Operator.Tests.Transfer.ZoneTransferTests;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>The reverse zones of the nodes' podCIDRs, transferred like the forward zone: one zone per apex, nested apexes apart.</summary>
public class ReverseZoneTransferTests
{
    private const string Outer = "244.10.in-addr.arpa", Inner = "1.244.10.in-addr.arpa";
    private const string V6 = "1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa";

    /// <summary>node-a's /16 holds node-b's /24: two zones, one inside the other, and an IPv6 zone.</summary>
    internal static ClusterModel Model()
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.0.2.53")] });
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.244.0.0/16", "fd00:10:244:1::/64"]));
        model.Upsert(Node("node-b", ["192.168.1.11"], ["10.244.1.0/24"]));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.5", "10.244.1.5")));
        model.Upsert(Service("shop", "api"));
        model.Upsert(Slice("shop", "api", "api-4", "IPv4", Ready("10.244.1.5")));
        model.Upsert(Slice("shop", "api", "api-6", "IPv6", Ready("fd00:10:244:1::7")));
        return model;
    }

    private static string[] Transferred(Zone zone, string apex, RecordType type = RecordType.Axfr, uint? clientSerial = null)
    {
        var transfers = new ZoneTransfers(new ZoneHolder(zone), Allow("127.0.0.0/8"), NullLogger.Instance);
        using var transfer = transfers.BeginOverTcp(Wire(Query(type, apex, clientSerial)), IPAddress.Loopback);
        Assert.That(transfer, Is.Not.Null, $"{type} of {apex} is made");
        return [.. AnswersOf(transfer!.Messages).Select(r => r.ToString())];
    }

    [Test]
    public void An_AXFR_of_a_reverse_apex_is_its_SOA_NS_and_the_PTRs_it_holds_but_not_those_of_a_nested_zone()
    {
        var zone = Model().Publish();
        var soa = $"{Outer}. 5 IN SOA ns1.minilb. hostmaster.minilb. {zone.Serial} 7200 1800 86400 5";

        Assert.That(Transferred(zone, Outer), Is.EqualTo(new[]
        {
            soa,
            $"{Outer}. 5 IN NS ns1.minilb.",
            $"5.0.{Outer}. 5 IN PTR web.default.minilb.",
            soa,
        }), "10.244.1.5 lies in the /16 too, but its closest zone is the /24");
        Assert.That(Transferred(zone, Inner), Is.EqualTo(new[]
        {
            $"{Inner}. 5 IN SOA ns1.minilb. hostmaster.minilb. {zone.Serial} 7200 1800 86400 5",
            $"{Inner}. 5 IN NS ns1.minilb.",
            $"5.{Inner}. 5 IN PTR api.shop.minilb.",
            $"5.{Inner}. 5 IN PTR web.default.minilb.",
            $"{Inner}. 5 IN SOA ns1.minilb. hostmaster.minilb. {zone.Serial} 7200 1800 86400 5",
        }), "an address two Services answer has both names");
        Assert.That(Transferred(zone, V6), Does.Contain($"7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.{V6}. 5 IN PTR api.shop.minilb."));
        Assert.That(Transferred(zone, "minilb").Any(l => l.Contains("in-addr.arpa", StringComparison.Ordinal)), Is.False, "the forward zone holds no PTR");
    }

    [TestCase(Outer)]
    [TestCase(Inner)]
    [TestCase(V6)]
    public void The_transferred_SOA_and_NS_are_what_the_responder_answers_at_the_reverse_apex(string apex)
    {
        var zone = Model().Publish();
        var responder = new Responder();
        string[] Answer(RecordType type, string name) => [.. responder.Respond(Query(type, name), zone)!.AnswerRecords.Select(r => r.ToString())];

        var transferred = Transferred(zone, apex);

        Assert.That(transferred[0], Is.EqualTo(Answer(RecordType.Soa, apex).Single()));
        Assert.That(transferred[1], Is.EqualTo(Answer(RecordType.Ns, apex).Single()));
        var pointers = transferred.Where(l => l.Contains(" PTR ", StringComparison.Ordinal)).ToList();
        Assert.That(pointers, Is.Not.Empty);
        foreach (var ptr in pointers)
            Assert.That(Answer(RecordType.Ptr, ptr[..ptr.IndexOf(' ')]), Does.Contain(ptr), "the secondary answers what minilb answers");
    }

    [Test]
    public void IXFR_of_a_reverse_zone_from_a_current_client_is_its_SOA_alone_and_from_one_behind_the_whole_zone()
    {
        var zone = Model().Publish();

        Assert.That(Transferred(zone, Inner, RecordType.Ixfr, clientSerial: zone.Serial), Is.EqualTo(new[] { ZoneTransfer.Soa(zone, DomainName.Parse(Inner)).ToString() }));
        Assert.That(Transferred(zone, Inner, RecordType.Ixfr, clientSerial: zone.Serial - 1), Has.Length.EqualTo(ZoneTransfer.Records(zone, DomainName.Parse(Inner)).Count));
    }

    [Test]
    public void A_large_reverse_zone_takes_several_messages_each_within_reach_of_compression_pointers()
    {
        var model = ZoneTransferTests.Model(webAddresses: 20_000); // 10.1.0.0 … 10.1.78.31
        model.Upsert(Node("node-a", ["192.168.1.10"], ["10.1.0.0/16"]));
        var zone = model.Publish();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var messages = ZoneTransfer.Messages(Query(RecordType.Axfr, "1.10.in-addr.arpa"), zone)!;

        var elapsed = clock.Elapsed;
        var records = AnswersOf(messages);
        TestContext.Out.WriteLine($"20,000 PTRs: {records.Count} records in {messages.Count} messages, {messages.Sum(m => m.Length):N0} bytes, built in {elapsed.TotalMilliseconds:0} ms");
        Assert.That(messages.Select(m => m.Length), Has.All.LessThanOrEqualTo(ZoneTransfer.MaxMessageBytes), "a pointer holds 14 bits of offset");
        Assert.That(records.OfType<PtrRecord>().Count(), Is.EqualTo(20_000), "none lost between messages");
        Assert.That(records[0], Is.TypeOf<SoaRecord>());
        Assert.That(records[^1], Is.TypeOf<SoaRecord>());
    }

    [Test]
    public void A_question_in_other_letter_case_gets_the_same_zone()
    {
        var zone = Model().Publish();

        // Letter case as the question's: ARSoft's name compression points the owners at the question (RFC 4343 allows it).
        Assert.That(Transferred(zone, Inner.ToUpperInvariant()), Is.EqualTo(Transferred(zone, Inner)).IgnoreCase, "RFC 4343: the question matches in any case");
    }

    [Test]
    public void IXFR_over_UDP_for_a_reverse_apex_is_its_SOA()
    {
        var zone = Model().Publish();
        var transfers = new ZoneTransfers(new ZoneHolder(zone), Allow("127.0.0.0/8"), NullLogger.Instance);
        var query = Wire(Query(RecordType.Ixfr, Outer, zone.Serial - 1));
        var output = new byte[512];

        var length = transfers.AnswerOverUdp(query, WireMessage.Read(query), IPAddress.Loopback, output);

        Assert.That(length, Is.GreaterThan(0));
        Assert.That(DnsMessage.Parse(output[..length]).AnswerRecords.Single().ToString(), Is.EqualTo(ZoneTransfer.Soa(zone, DomainName.Parse(Outer)).ToString()));
    }

    [TestCase("5.0.244.10.in-addr.arpa", TestName = "A PTR owner is no zone")]
    [TestCase("0.244.10.in-addr.arpa", TestName = "An empty non-terminal is no zone")]
    [TestCase("10.in-addr.arpa", TestName = "A name above every apex is no zone")]
    [TestCase("2.244.10.in-addr.arpa", TestName = "A /24 no node has is no zone")]
    public void A_transfer_of_a_reverse_name_that_is_not_an_apex_is_refused(string name)
    {
        var transfers = new ZoneTransfers(new ZoneHolder(Model().Publish()), Allow("127.0.0.0/8"), NullLogger.Instance);

        Assert.That(transfers.BeginOverTcp(Wire(Query(RecordType.Axfr, name)), IPAddress.Loopback), Is.Null, "the responder answers REFUSED");
    }

    [Test]
    public void A_node_leaving_takes_its_reverse_zone_out_of_the_transfers_and_its_PTRs_go_to_the_zone_around_it()
    {
        var model = Model();
        model.Delete(Node("node-b", [], []));
        var zone = model.Publish();
        var transfers = new ZoneTransfers(new ZoneHolder(zone), Allow("127.0.0.0/8"), NullLogger.Instance);

        Assert.That(transfers.BeginOverTcp(Wire(Query(RecordType.Axfr, Inner)), IPAddress.Loopback), Is.Null);
        Assert.That(Transferred(zone, Outer), Does.Contain($"5.1.{Outer}. 5 IN PTR web.default.minilb."));
    }
}
