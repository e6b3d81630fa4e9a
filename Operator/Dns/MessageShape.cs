using System.Buffers.Binary;

namespace MiniLb.Operator.Dns;

/// <summary>
/// Whether a message's framing holds together: names, sections and record lengths within the message, and EDNS
/// options within their OPT record. A walk without allocation, so garbage is dropped before ARSoft's parser throws
/// on it (an exception and a stack trace per packet: under a garbage flood the costliest thing the server did).
/// Record contents are not checked; ARSoft's parser still has the last word.
/// </summary>
internal static class MessageShape
{
    private const int MaxNameLength = 255; // RFC 1035 §3.1
    private const ushort OptType = 41;
    private const int MaxPointers = 127; // one per label of the longest name, as ARSoft's own limit

    public static bool HoldsTogether(ReadOnlySpan<byte> message)
    {
        if (message.Length < Wire.HeaderLength)
            return false;
        int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int records = BinaryPrimitives.ReadUInt16BigEndian(message[6..]) + BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int additional = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        var position = Wire.HeaderLength;
        for (var i = 0; i < questions; i++)
        {
            // Nothing comes before the first question that a pointer could name.
            if (!SkipName(message, ref position, pointers: i > 0) || (position += 4) > message.Length)
                return false;
        }
        for (var i = 0; i < records + additional; i++)
        {
            var owner = position;
            if (!SkipName(message, ref position, pointers: true) || position + 10 > message.Length)
                return false;
            var type = BinaryPrimitives.ReadUInt16BigEndian(message[position..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 8)..]);
            position += 10;
            if (position + length > message.Length)
                return false;
            // RFC 6891 §6.1.2: the OPT owner is the root; its data is a list of options.
            if (type == OptType && (position - 10 - owner != 1 || !OptionsFit(message.Slice(position, length))))
                return false;
            position += length;
        }
        return true;
    }

    /// <summary>
    /// Skips one name. Labels are 0..63 bytes, the name at most 255; a pointer must point backwards (RFC 1035
    /// §4.1.4: to a prior occurrence), and a name may follow at most <see cref="MaxPointers"/> of them.
    /// </summary>
    private static bool SkipName(ReadOnlySpan<byte> message, ref int position, bool pointers)
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
                if (target >= at || target < Wire.HeaderLength)
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
    internal static bool OptionsFit(ReadOnlySpan<byte> options)
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
