using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>
/// The one reader of raw messages: which messages are dropped before ARSoft parses them (and that real queries
/// never are), the UDP limit a query allows, and the empty responses written from a query's header and question.
/// </summary>
public class WireMessageTests
{
    private static byte[] Query(RawQuery.Edns? edns = null) => RawQuery.Build("web.default.minilb", edns: edns);

    private static bool HoldsTogether(byte[] message) => WireMessage.Read(message).HoldsTogether;

    private static byte[] With(byte[] message, int offset, params byte[] bytes)
    {
        var copy = message.ToArray();
        bytes.CopyTo(copy, offset);
        return copy;
    }

    [Test]
    public void Queries_real_clients_send_hold_together()
    {
        Assert.That(HoldsTogether(Query()), Is.True);
        Assert.That(HoldsTogether(Query(new RawQuery.Edns(Size: 4096, DnssecOk: true, Option: RawQuery.UnknownOption(20)))), Is.True);
        Assert.That(HoldsTogether(RawQuery.Build("WeB.DeFaUlT.MiNiLb", RecordType.Srv, questions: 2)), Is.True, "two questions get FORMERR later, not a silent drop");
        Assert.That(HoldsTogether([.. Query(), 0, 0, 0]), Is.True, "bytes after the last section are ignored");
        Assert.That(HoldsTogether(RawQuery.Build(string.Join('.', Enumerable.Repeat(new string('x', 63), 3)) + ".minilb")), Is.True, "labels of 63 bytes");
    }

    // Offsets: the header is 12 bytes; the name "web.default.minilb" takes bytes 12 to 31, type and class 32 to 35,
    // an OPT record starts at 36 with its data length at 45 and its first option at 47.
    private static readonly Dictionary<string, Func<byte[]>> Broken = new()
    {
        ["the question is a pointer to itself"] = () => [.. Query()[..12], 0xC0, 12, 0, 1, 0, 1],
        ["the question is a pointer into the header"] = () => [.. Query()[..12], 0xC0, 2, 0, 1, 0, 1],
        ["a label runs past the end"] = () => Query()[..20],
        ["type and class are cut off"] = () => Query()[..^2],
        ["an extended label type (0x41)"] = () => With(Query(), 12, 0x41),
        ["a reserved label type (0x80)"] = () => With(Query(), 12, 0x80),
        ["a name longer than 255 bytes"] = () => RawQuery.Build(string.Join('.', Enumerable.Repeat(new string('x', 63), 4)) + ".minilb"),
        ["one question more than there is"] = () => With(Query(), 5, 2),
        ["an additional record that is not there"] = () => With(Query(), 11, 1),
        ["an answer record that is not there"] = () => With(Query(), 7, 1),
        ["record data longer than the message"] = () => With(Query(new RawQuery.Edns(Option: RawQuery.UnknownOption(8))), 45, 0, 200),
        ["an EDNS option longer than its record"] = () => With(Query(new RawQuery.Edns(Option: RawQuery.UnknownOption(8))), 49, 0, 9),
        ["an EDNS option cut in its header"] = () => [.. With(Query(new RawQuery.Edns()), 45, 0, 2), 0, 1],
        ["an OPT record owned by a name other than the root"] = () => [.. With(Query(), 11, 1), 1, (byte)'x', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0],
        ["a record name pointing forward"] = () => [.. With(Query(), 11, 1), 0xC0, 60, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4],
        ["a pointer chain that loops"] = () => [.. With(Query(), 11, 1), 1, (byte)'a', 0xC0, 36, 0, 1, 0, 1, 0, 0, 0, 5, 0, 0],
    };

    public static IEnumerable<string> BrokenCases => Broken.Keys;

    [TestCaseSource(nameof(BrokenCases))]
    public void Broken_framing_is_dropped(string what)
    {
        Assert.That(HoldsTogether(Broken[what]()), Is.False, what);
    }

    [Test]
    public void A_record_name_may_point_back_at_the_question()
    {
        byte[] withAnswer = [.. With(Query(), 7, 1), 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1];

        Assert.That(HoldsTogether(withAnswer), Is.True);
    }

    [Test]
    public void Responses_and_runts_are_not_queries()
    {
        Assert.That(WireMessage.Read(RawQuery.Build("web.default.minilb")).IsQuery, Is.True);
        Assert.That(WireMessage.Read(RawQuery.Build("web.default.minilb", response: true)).IsQuery, Is.False);
        Assert.That(WireMessage.Read(new byte[11]).IsQuery, Is.False);
    }

    [Test]
    public void Section_counts_the_message_cannot_hold_make_it_no_query()
    {
        var query = RawQuery.Build("web.default.minilb");
        var lying = query.ToArray();
        lying[4] = lying[5] = 0xFF; // 65,535 questions in 36 bytes

        Assert.That(WireMessage.Read(lying).IsQuery, Is.False);
        Assert.That(WireMessage.Read([0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).IsQuery, Is.False);
    }

    [TestCase(null, 512)]
    [TestCase(4096, 1232)]
    [TestCase(1232, 1232)]
    [TestCase(800, 800)]
    [TestCase(100, 512)]
    public void The_UDP_limit_follows_the_query(int? advertised, int limit)
    {
        var query = RawQuery.Build("web.default.minilb", edns: advertised is { } size ? new RawQuery.Edns(Size: (ushort)size, Option: RawQuery.UnknownOption(8)) : null);

        Assert.That(WireMessage.Read(query).UdpLimit, Is.EqualTo(limit));
    }

    [Test]
    public void A_cut_off_query_gets_the_smallest_limit()
    {
        var query = RawQuery.Build("web.default.minilb", edns: new RawQuery.Edns(Size: 4096));

        Assert.That(WireMessage.Read(query[..^8]).UdpLimit, Is.EqualTo(512));
    }

    [Test]
    public void An_empty_truncated_response_keeps_header_and_question_and_sets_TC()
    {
        var query = RawQuery.Build("BiG.default.minilb", id: 77);
        var big = new List<byte>(query);
        big[2] |= 0x84; // QR, AA
        big[7] = 100;   // ANCOUNT 100, records follow
        big.AddRange(new byte[2000]);

        var output = new byte[big.Count];
        var truncated = output[..WireMessage.Read(big.ToArray()).WriteEmptyResponse(big.ToArray(), output, ReturnCode.NoError, truncated: true)];

        var message = DnsMessage.Parse(truncated);
        Assert.That(message.IsTruncated, Is.True);
        Assert.That(message.IsAuthoritiveAnswer, Is.True);
        Assert.That(message.TransactionID, Is.EqualTo(77));
        Assert.That(message.AnswerRecords, Is.Empty);
        Assert.That(RawQuery.QuestionSection(truncated), Is.EqualTo(RawQuery.QuestionSection(query)));
    }
}
