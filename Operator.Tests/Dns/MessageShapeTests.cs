using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>Which messages are dropped before ARSoft parses them, and that real queries never are.</summary>
public class MessageShapeTests
{
    private static byte[] Query(RawQuery.Edns? edns = null) => RawQuery.Build("web.default.minilb", edns: edns);

    private static byte[] With(byte[] message, int offset, params byte[] bytes)
    {
        var copy = message.ToArray();
        bytes.CopyTo(copy, offset);
        return copy;
    }

    [Test]
    public void Queries_real_clients_send_hold_together()
    {
        Assert.That(MessageShape.HoldsTogether(Query()), Is.True);
        Assert.That(MessageShape.HoldsTogether(Query(new RawQuery.Edns(Size: 4096, DnssecOk: true, Option: RawQuery.UnknownOption(20)))), Is.True);
        Assert.That(MessageShape.HoldsTogether(RawQuery.Build("WeB.DeFaUlT.MiNiLb", RecordType.Srv, questions: 2)), Is.True, "two questions get FORMERR later, not a silent drop");
        Assert.That(MessageShape.HoldsTogether([.. Query(), 0, 0, 0]), Is.True, "bytes after the last section are ignored");
        Assert.That(MessageShape.HoldsTogether(RawQuery.Build(string.Join('.', Enumerable.Repeat(new string('x', 63), 3)) + ".minilb")), Is.True, "labels of 63 bytes");
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
        Assert.That(MessageShape.HoldsTogether(Broken[what]()), Is.False, what);
    }

    [Test]
    public void A_record_name_may_point_back_at_the_question()
    {
        byte[] withAnswer = [.. With(Query(), 7, 1), 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1];

        Assert.That(MessageShape.HoldsTogether(withAnswer), Is.True);
    }
}
