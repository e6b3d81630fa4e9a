using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>What the transports read from raw packets before ARSoft does.</summary>
public class WireTests
{
    [Test]
    public void Responses_and_runts_are_not_queries()
    {
        Assert.That(Wire.IsQuery(RawQuery.Build("web.default.minilb")), Is.True);
        Assert.That(Wire.IsQuery(RawQuery.Build("web.default.minilb", response: true)), Is.False);
        Assert.That(Wire.IsQuery(new byte[11]), Is.False);
    }

    [Test]
    public void Section_counts_the_message_cannot_hold_make_it_no_query()
    {
        var query = RawQuery.Build("web.default.minilb");
        var lying = query.ToArray();
        lying[4] = lying[5] = 0xFF; // 65,535 questions in 36 bytes

        Assert.That(Wire.IsQuery(lying), Is.False);
        Assert.That(Wire.IsQuery([0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), Is.False);
    }

    [TestCase(null, 512)]
    [TestCase(4096, 1232)]
    [TestCase(1232, 1232)]
    [TestCase(800, 800)]
    [TestCase(100, 512)]
    public void The_UDP_limit_follows_the_query(int? advertised, int limit)
    {
        var query = RawQuery.Build("web.default.minilb", edns: advertised is { } size ? new RawQuery.Edns(Size: (ushort)size, Option: RawQuery.UnknownOption(8)) : null);

        Assert.That(Wire.UdpLimit(query), Is.EqualTo(limit));
    }

    [Test]
    public void A_cut_off_query_gets_the_smallest_limit()
    {
        var query = RawQuery.Build("web.default.minilb", edns: new RawQuery.Edns(Size: 4096));

        Assert.That(Wire.UdpLimit(query[..^8]), Is.EqualTo(512));
    }

    [Test]
    public void Truncation_keeps_header_and_question_and_sets_TC()
    {
        var query = RawQuery.Build("BiG.default.minilb", id: 77);
        var big = new List<byte>(query);
        big[2] |= 0x84; // QR, AA
        big[7] = 100;   // ANCOUNT 100, records follow
        big.AddRange(new byte[2000]);

        var truncated = Wire.Truncate(big.ToArray());

        var message = DnsMessage.Parse(truncated);
        Assert.That(message.IsTruncated, Is.True);
        Assert.That(message.IsAuthoritiveAnswer, Is.True);
        Assert.That(message.TransactionID, Is.EqualTo(77));
        Assert.That(message.AnswerRecords, Is.Empty);
        Assert.That(RawQuery.QuestionSection(truncated), Is.EqualTo(RawQuery.QuestionSection(query)));
    }
}
