using System.Buffers.Binary;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// The layout of a raw DNS message from one walk over it, without allocating: whether its framing holds together
/// (names, sections and record lengths inside the message, EDNS options inside their OPT record), where its
/// sections start, its first question and its OPT record. The one reader of raw messages: the admission check,
/// the fast path's key, the UDP size limit and the NXDOMAIN learner all read this, so they cannot disagree.
/// Record contents are not checked; ARSoft's parser still has the last word on them.
/// </summary>
internal readonly record struct WireMessage
{
    public const int HeaderLength = 12;
    private const int MaxNameLength = 255;  // RFC 1035 §3.1
    private const int MaxPointers = 127;    // one per label of the longest name, as ARSoft's own limit
    private const ushort OptType = 41;

    /// <summary>Names, sections and record lengths are inside the message.</summary>
    public bool HoldsTogether { get; private init; }

    public ushort Flags { get; private init; }
    public int Questions { get; private init; }
    public int Answers { get; private init; }
    public int Authorities { get; private init; }
    public int Additionals { get; private init; }

    /// <summary>Where the first question ends (0 when there is none or it does not fit).</summary>
    public int QuestionEnd { get; private init; }

    /// <summary>The first question's type, <see cref="RecordType.Invalid"/> without one.</summary>
    public RecordType QuestionType { get; private init; }

    public int AnswerStart { get; private init; }
    public int AuthorityStart { get; private init; }
    public int AdditionalStart { get; private init; }

    /// <summary>Where the last section ends; bytes after it are not part of any record.</summary>
    public int End { get; private init; }

    /// <summary>The type of the first authority record, 0 without one.</summary>
    public ushort FirstAuthorityType { get; private init; }

    /// <summary>Where the first OPT record of the additional section starts, -1 without one.</summary>
    public int OptStart { get; private init; }

    /// <summary>The OPT record's UDP payload size, extended RCODE, version and DO bit (RFC 6891 §6.1.3).</summary>
    public ushort OptPayloadSize { get; private init; }
    public byte OptExtendedRcode { get; private init; }
    public byte OptVersion { get; private init; }
    public bool DnssecOk { get; private init; }

    public bool IsResponse => (Flags & 0x8000) != 0;

    /// <summary>
    /// A query worth answering: at least a header, QR=0, counts the length can hold, framing that holds together.
    /// Responses are dropped (answering one could start a loop between two servers).
    /// </summary>
    public bool IsQuery => HoldsTogether && !IsResponse;

    /// <summary>
    /// The largest UDP response this query allows: 512 without EDNS, otherwise its advertised size clamped to
    /// 512..<see cref="Responder.MaxUdpPayloadSize"/> (RFC 6891 §6.2.5).
    /// </summary>
    public int UdpLimit => OptStart < 0 ? Responder.MinUdpPayloadSize
        : Math.Clamp(OptPayloadSize, Responder.MinUdpPayloadSize, Responder.MaxUdpPayloadSize);

    /// <summary>Reads the layout of <paramref name="message"/>; <see cref="HoldsTogether"/> says whether it could.</summary>
    public static WireMessage Read(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderLength)
            return new WireMessage { OptStart = -1 };
        int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int authorities = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int additionals = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        var layout = new WireMessage
        {
            Flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]),
            Questions = questions,
            Answers = answers,
            Authorities = authorities,
            Additionals = additionals,
            QuestionType = RecordType.Invalid,
            OptStart = -1,
        };
        // The smallest question is 5 bytes, the smallest record 11: counts the length cannot hold fail at once
        // (a 12-byte packet may claim 65,535 of each).
        if (HeaderLength + 5L * questions + 11L * (answers + authorities + additionals) > message.Length)
            return layout;

        var position = HeaderLength;
        for (var i = 0; i < questions; i++)
        {
            // Nothing comes before the first question that a pointer could name.
            if (!SkipName(message, ref position, pointers: i > 0) || (position += 4) > message.Length)
                return layout;
            if (i == 0)
                layout = layout with { QuestionEnd = position, QuestionType = (RecordType)BinaryPrimitives.ReadUInt16BigEndian(message[(position - 4)..]) };
        }
        ushort firstAuthority = 0;
        Span<int> starts = stackalloc int[3];
        ReadOnlySpan<int> counts = [answers, authorities, additionals];
        for (var section = 0; section < 3; section++)
        {
            starts[section] = position;
            for (var i = 0; i < counts[section]; i++)
            {
                var owner = position;
                if (!SkipName(message, ref position, pointers: true) || position + 10 > message.Length)
                    return layout;
                var type = BinaryPrimitives.ReadUInt16BigEndian(message[position..]);
                var length = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 8)..]);
                if (position + 10 + length > message.Length)
                    return layout;
                if (section == 1 && i == 0)
                    firstAuthority = type;
                if (type == OptType)
                {
                    // RFC 6891 §6.1.2: the OPT owner is the root; its data is a list of options.
                    if (position - owner != 1 || !OptionsFit(message.Slice(position + 10, length)))
                        return layout;
                    if (section == 2 && layout.OptStart < 0)
                    {
                        layout = layout with
                        {
                            OptStart = owner,
                            OptPayloadSize = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 2)..]),
                            OptExtendedRcode = message[position + 4],
                            OptVersion = message[position + 5],
                            DnssecOk = (message[position + 6] & 0x80) != 0,
                        };
                    }
                }
                position += 10 + length;
            }
        }
        return layout with
        {
            HoldsTogether = true,
            AnswerStart = starts[0],
            AuthorityStart = starts[1],
            AdditionalStart = starts[2],
            FirstAuthorityType = firstAuthority,
            End = position,
        };
    }

    /// <summary>
    /// Writes the header and first question of <paramref name="query"/> as a response with no records, the given
    /// RCODE and TC: a rate-limited client's "slip" (TC, so a real client retries over TCP), FORMERR for a query
    /// ARSoft cannot read, SERVFAIL, or the last resort when an answer cannot be made to fit. Returns the length.
    /// </summary>
    public int WriteEmptyResponse(ReadOnlySpan<byte> query, Span<byte> output, ReturnCode rcode, bool truncated)
    {
        var end = QuestionEnd > 0 ? QuestionEnd : HeaderLength;
        query[..end].CopyTo(output);
        output[2] |= 0x80; // QR; opcode, AA and RD as in the message
        if (truncated)
            output[2] |= 0x02;
        output[3] = (byte)((output[3] & 0x10) | ((int)rcode & 0x0F)); // CD copied as in any answer; RA=0
        BinaryPrimitives.WriteUInt16BigEndian(output[4..], (ushort)(QuestionEnd > 0 ? 1 : 0));
        output.Slice(6, 6).Clear();
        return end;
    }

    /// <summary>
    /// Skips one name. Labels are 0..63 bytes, the name at most 255; a pointer must point backwards (RFC 1035
    /// §4.1.4: to a prior occurrence), and a name may follow at most <see cref="MaxPointers"/> of them.
    /// </summary>
    internal static bool SkipName(ReadOnlySpan<byte> message, ref int position, bool pointers)
    {
        var at = position;
        var length = 0;
        var jumps = 0;
        while (at < message.Length)
        {
            var label = message[at];
            if (label == 0)
            {
                if (jumps == 0)
                    position = at + 1;
                return length + 1 <= MaxNameLength;
            }
            if ((label & 0xC0) == 0xC0)
            {
                if (!pointers || at + 1 >= message.Length || ++jumps > MaxPointers)
                    return false;
                var target = ((label & 0x3F) << 8) | message[at + 1];
                if (target >= at || target < HeaderLength)
                    return false;
                if (jumps == 1)
                    position = at + 2;
                at = target;
                continue;
            }
            if ((label & 0xC0) != 0)
                return false; // extended and reserved label types (RFC 6891 §5)
            length += label + 1;
            if (length > MaxNameLength)
                return false;
            at += label + 1;
        }
        return false;
    }

    /// <summary>EDNS options (code, length, data) that exactly fill their OPT record's RDATA.</summary>
    private static bool OptionsFit(ReadOnlySpan<byte> options)
    {
        var position = 0;
        while (position < options.Length)
        {
            if (position + 4 > options.Length)
                return false;
            position += 4 + BinaryPrimitives.ReadUInt16BigEndian(options[(position + 2)..]);
        }
        return position == options.Length;
    }
}
