using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Transfer;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>The transfer as a pure function of one zone version, and the gate in front of it, without sockets.</summary>
public class ZoneTransferTests
{
    internal static ClusterModel Model(int webAddresses = 20)
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.0.2.53")] });
        model.Upsert(Service("default", "web", ports: Port("http", 80)));
        model.Upsert(Slice("default", "web", "w", "IPv4", Ready([.. Enumerable.Range(0, webAddresses).Select(i => $"10.{1 + i / 65536}.{i / 256 % 256}.{i % 256}")]), SlicePort("http", 8080)));
        model.Upsert(Service("shop", "api"));
        model.Upsert(Slice("shop", "api", "a", "IPv6", Ready("fd00::7")));
        model.Upsert(Ingress("default", "site", ["shop.example.com", "*.apps.minilb"], "web.default.minilb"));
        return model;
    }

    internal static DnsMessage Query(RecordType type, string name = "minilb", uint? clientSerial = null)
    {
        var query = new DnsMessage { IsQuery = true, TransactionID = 4242 };
        query.Questions.Add(new DnsQuestion(DomainName.Parse(name), type, RecordClass.INet));
        if (clientSerial is { } serial)
            query.AuthorityRecords.Add(new SoaRecord(DomainName.Parse(name), 5, DomainName.Parse("ns1.minilb"), DomainName.Parse("hostmaster.minilb"), serial, 1, 1, 1, 5));
        return query;
    }

    internal static byte[] Wire(DnsMessage message) => ZoneTransfer.Encode(message);

    internal static List<DnsRecordBase> AnswersOf(IEnumerable<byte[]> messages) =>
        [.. messages.SelectMany(m => DnsMessage.Parse(m).AnswerRecords)];

    private static string[] Lines(IEnumerable<DnsRecordBase> records) => [.. records.Select(r => r.ToString())];

    [Test]
    public void An_AXFR_is_the_whole_forward_zone_between_two_SOAs()
    {
        var zone = Model().Publish();

        var records = AnswersOf(ZoneTransfer.Messages(Query(RecordType.Axfr), zone)!);

        Assert.That(records[0], Is.TypeOf<SoaRecord>().And.Property("SerialNumber").EqualTo(zone.Serial));
        Assert.That(records[^1].ToString(), Is.EqualTo(records[0].ToString()), "the same SOA last (RFC 5936 §2.2)");
        Assert.That(records.OfType<SoaRecord>().Count(), Is.EqualTo(2));
        var lines = Lines(records);
        Assert.That(lines, Does.Contain("minilb. 5 IN NS ns1.minilb."));
        Assert.That(lines, Does.Contain("ns1.minilb. 5 IN A 192.0.2.53"), "glue for the NS");
        Assert.That(records.OfType<ARecord>().Count(r => r.Name.Equals(DomainName.Parse("web.default.minilb"))), Is.EqualTo(20), "all ready addresses, not a cut answer");
        Assert.That(lines, Does.Contain("api.shop.minilb. 5 IN AAAA fd00::7"));
        Assert.That(lines.Any(l => l.StartsWith("_http._tcp.web.default.minilb. 5 IN SRV 0 1 8080 ", StringComparison.Ordinal)), Is.True, string.Join("\n", lines));
        Assert.That(lines.Count(l => l.StartsWith("*.apps.minilb. 5 IN A ", StringComparison.Ordinal)), Is.EqualTo(20), "an in-zone wildcard is sent as one");
        Assert.That(lines.Any(l => l.Contains("example.com", StringComparison.Ordinal)), Is.False, "an alias outside the zone is not part of it");
        Assert.That(records.All(r => r.TimeToLive == 5), Is.True, "the answers' TTL");
    }

    [Test]
    public void A_large_zone_takes_several_messages_each_within_reach_of_compression_pointers()
    {
        var zone = Model(webAddresses: 9000).Publish();

        var messages = ZoneTransfer.Messages(Query(RecordType.Axfr), zone)!;
        var records = AnswersOf(messages);

        TestContext.Out.WriteLine($"9,000 addresses: {messages.Count} messages of {string.Join(", ", messages.Select(m => m.Length))} bytes");
        Assert.That(messages, Has.Count.GreaterThan(1));
        Assert.That(messages.Select(m => m.Length), Has.All.LessThanOrEqualTo(0x3FFF), "a pointer holds 14 bits of offset");
        Assert.That(records.OfType<ARecord>().Count(r => r.Name.Equals(DomainName.Parse("web.default.minilb"))), Is.EqualTo(9000), "none lost between messages");
        Assert.That(records[0], Is.TypeOf<SoaRecord>());
        Assert.That(records[^1], Is.TypeOf<SoaRecord>());
        Assert.That(DnsMessage.Parse(messages[0]).Questions, Has.Count.EqualTo(1), "the question in the first message");
        Assert.That(messages.Select(m => DnsMessage.Parse(m).TransactionID), Has.All.EqualTo(4242));
    }

    [Test]
    public void A_zone_beyond_the_limit_is_not_transferred_rather_than_cut()
    {
        var zone = Model(webAddresses: ZoneTransfer.MaxRecords / 3 + 1).Publish(); // each address makes 4 records: A, wildcard A, SRV, its pod name

        Assert.That(ZoneTransfer.Messages(Query(RecordType.Axfr), zone), Is.Null);
    }

    [Test]
    public void IXFR_from_a_current_client_is_the_SOA_alone_and_from_one_behind_the_whole_zone()
    {
        var zone = Model().Publish();
        var transfers = new ZoneTransfers(new ZoneHolder(zone), Allow("127.0.0.0/8"), NullLogger.Instance);

        using var current = transfers.BeginOverTcp(Wire(Query(RecordType.Ixfr, clientSerial: zone.Serial)), IPAddress.Loopback)!;
        using var behind = transfers.BeginOverTcp(Wire(Query(RecordType.Ixfr, clientSerial: zone.Serial - 1)), IPAddress.Loopback)!;

        Assert.That(Lines(AnswersOf(current.Messages)), Is.EqualTo(new[] { ZoneTransfer.Soa(zone).ToString() }));
        Assert.That(AnswersOf(behind.Messages), Has.Count.EqualTo(ZoneTransfer.Records(zone).Count), "AXFR form (RFC 1995 §4)");
    }

    [Test]
    public void A_transfer_is_one_version_even_when_the_zone_changes_while_it_is_written()
    {
        var model = Model();
        var zones = new ZoneHolder(model.Publish());
        var transfers = new ZoneTransfers(zones, Allow("127.0.0.1/32"), NullLogger.Instance);

        using var transfer = transfers.BeginOverTcp(Wire(Query(RecordType.Axfr)), IPAddress.Loopback)!;
        var before = zones.Current.Serial;
        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.9.9.9")));
        zones.Swap(model.Publish());

        var records = AnswersOf(transfer.Messages);
        Assert.That(zones.Current.Serial, Is.GreaterThan(before));
        Assert.That(records.OfType<SoaRecord>().Select(s => s.SerialNumber), Has.All.EqualTo(before));
        Assert.That(records.OfType<ARecord>().Any(a => a.Address.ToString() == "10.9.9.9"), Is.False);
    }

    [TestCase("10.1.2.3", true)]
    [TestCase("192.168.1.1", false)]
    [TestCase("::ffff:10.1.2.3", true)]
    [TestCase("fd00::1", true)]
    [TestCase("fd01::1", false)]
    public void Only_clients_in_the_allow_list_get_a_transfer(string client, bool transferred)
    {
        var transfers = new ZoneTransfers(new ZoneHolder(Model().Publish()), Allow("10.0.0.0/8", "fd00::/16"), NullLogger.Instance);

        using var transfer = transfers.BeginOverTcp(Wire(Query(RecordType.Axfr)), IPAddress.Parse(client));

        Assert.That(transfer is not null, Is.EqualTo(transferred), "null: the responder answers REFUSED");
    }

    [Test]
    public void Without_an_allow_list_and_for_other_zones_nothing_is_transferred()
    {
        var zones = new ZoneHolder(Model().Publish());

        Assert.That(new ZoneTransfers(zones, TransferSettings.None, NullLogger.Instance).BeginOverTcp(Wire(Query(RecordType.Axfr)), IPAddress.Loopback), Is.Null);
        var open = new ZoneTransfers(zones, Allow("0.0.0.0/0"), NullLogger.Instance);
        Assert.That(open.BeginOverTcp(Wire(Query(RecordType.Axfr, "example.com")), IPAddress.Loopback), Is.Null);
        Assert.That(open.BeginOverTcp(Wire(Query(RecordType.Axfr, "web.default.minilb")), IPAddress.Loopback), Is.Null, "only the apex is a zone");
        Assert.That(open.BeginOverTcp(Wire(Query(RecordType.A, "web.default.minilb")), IPAddress.Loopback), Is.Null);
    }

    [Test]
    public void Transfers_beyond_the_concurrency_limit_get_SERVFAIL_until_one_finishes()
    {
        var transfers = new ZoneTransfers(new ZoneHolder(Model().Publish()), Allow("127.0.0.0/8"), NullLogger.Instance);
        var running = Enumerable.Range(0, ZoneTransfers.MaxConcurrent).Select(_ => transfers.BeginOverTcp(Wire(Query(RecordType.Axfr)), IPAddress.Loopback)!).ToList();

        using (var refused = transfers.BeginOverTcp(Wire(Query(RecordType.Axfr)), IPAddress.Loopback)!)
            Assert.That(DnsMessage.Parse(refused.Messages.Single()).ReturnCode, Is.EqualTo(ReturnCode.ServerFailure));
        running[0].Dispose();
        running[0].Dispose(); // twice frees one slot, not two
        using var next = transfers.BeginOverTcp(Wire(Query(RecordType.Axfr)), IPAddress.Loopback)!;
        Assert.That(DnsMessage.Parse(next.Messages[0]).ReturnCode, Is.EqualTo(ReturnCode.NoError));
        Assert.That(transfers.Running, Is.EqualTo(ZoneTransfers.MaxConcurrent));
        running.ForEach(r => r.Dispose());
    }

    internal static TransferSettings Allow(params string[] cidrs) => new() { AllowFrom = [.. cidrs.Select(IPNetwork.Parse)] };
}
