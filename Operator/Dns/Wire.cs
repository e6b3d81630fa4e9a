using System.Buffers.Binary;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// The few facts the transports read from raw messages before (or instead of) ARSoft's parser: is it a query,
/// and how large may the UDP answer be. Also the last-resort truncation that keeps that promise.
/// </summary>
internal static class Wire
{
    public const int HeaderLength = 12;
    private const ushort OptType = 41;

    /// <summary>
    /// At least a header, QR=0, section counts the length can hold, and framing that holds together (<see cref="MessageShape"/>). Responses are dropped here: ARSoft would
    /// turn "no answer" into SERVFAIL. Counts are checked because ARSoft sizes its lists by them: a 12-byte packet
    /// claiming 65,535 questions made it allocate 512 KiB (on the large-object heap) before failing.
    /// </summary>
    /// <summary>
    /// The question type and response code of a response whose question name is written out in full, as the fast
    /// path's replayed answers are (for metrics; no parsing, no allocation).
    /// </summary>
    public static (RecordType Type, ReturnCode Rcode) Summary(ReadOnlySpan<byte> response)
    {
        var rcode = (ReturnCode)(response[3] & 0x0F);
        var offset = 12;
        while (offset < response.Length && response[offset] != 0)
            offset += response[offset] + 1;
        return offset + 3 <= response.Length
            ? ((RecordType)BinaryPrimitives.ReadUInt16BigEndian(response[(offset + 1)..]), rcode)
            : (RecordType.Invalid, rcode);
    }

    public static bool IsQuery(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderLength || (message[2] & 0x80) != 0)
            return false;
        // The smallest question is a 1-byte name and type and class (5 bytes); the smallest record 11 bytes.
        long questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        long records = BinaryPrimitives.ReadUInt16BigEndian(message[6..]) + BinaryPrimitives.ReadUInt16BigEndian(message[8..]) + BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        return HeaderLength + 5 * questions + 11 * records <= message.Length && MessageShape.HoldsTogether(message);
    }

    /// <summary>
    /// The header and question of <paramref name="query"/> as a response with TC=1 and no records: what a
    /// rate-limited client gets instead of an answer ("slip", as BIND's RRL), so a real client retries over TCP.
    /// </summary>
    public static byte[] Slip(ReadOnlySpan<byte> query)
    {
        var reply = Truncate(query);
        reply[2] |= 0x80; // QR
        reply[3] &= 0x10; // RA=0, RCODE NOERROR; CD copied as in any answer
        return reply;
    }

    /// <summary>
    /// The largest UDP response this query allows: 512 without EDNS, otherwise its advertised size clamped to
    /// 512..<see cref="Responder.MaxUdpPayloadSize"/> (RFC 6891 §6.2.5).
    /// </summary>
    public static int UdpLimit(ReadOnlySpan<byte> query)
    {
        if (query.Length < HeaderLength)
            return Responder.MinUdpPayloadSize;
        var position = HeaderLength;
        int questions = BinaryPrimitives.ReadUInt16BigEndian(query[4..]);
        int records = BinaryPrimitives.ReadUInt16BigEndian(query[6..]) + BinaryPrimitives.ReadUInt16BigEndian(query[8..]);
        int additional = BinaryPrimitives.ReadUInt16BigEndian(query[10..]);
        for (var i = 0; i < questions; i++)
        {
            if (!SkipName(query, ref position) || (position += 4) > query.Length)
                return Responder.MinUdpPayloadSize;
        }
        for (var i = 0; i < records + additional; i++)
        {
            if (!SkipName(query, ref position) || position + 10 > query.Length)
                return Responder.MinUdpPayloadSize;
            var type = BinaryPrimitives.ReadUInt16BigEndian(query[position..]);
            var size = BinaryPrimitives.ReadUInt16BigEndian(query[(position + 2)..]);
            if (i >= records && type == OptType)
                return Math.Clamp(size, Responder.MinUdpPayloadSize, Responder.MaxUdpPayloadSize);
            position += 10 + BinaryPrimitives.ReadUInt16BigEndian(query[(position + 8)..]);
        }
        return Responder.MinUdpPayloadSize;
    }

    /// <summary>
    /// The header and question of <paramref name="response"/> with TC=1 and no records: the client retries over
    /// TCP (RFC 2181 §9). Used only if a response would still exceed the client's limit.
    /// </summary>
    public static byte[] Truncate(ReadOnlySpan<byte> response)
    {
        var end = HeaderLength;
        int questions = response.Length >= HeaderLength ? BinaryPrimitives.ReadUInt16BigEndian(response[4..]) : 0;
        for (var i = 0; i < questions; i++)
        {
            var position = end;
            if (!SkipName(response, ref position) || (position += 4) > response.Length)
                break;
            end = position;
            if (i == 0)
                break; // one question is all a query may hold (RFC 9619)
        }
        var truncated = response[..Math.Min(end, response.Length)].ToArray();
        if (truncated.Length < HeaderLength)
            return truncated;
        truncated[2] |= 0x02; // TC
        BinaryPrimitives.WriteUInt16BigEndian(truncated.AsSpan(4), (ushort)(end > HeaderLength ? 1 : 0));
        truncated.AsSpan(6, 6).Clear();
        return truncated;
    }

    internal static bool SkipName(ReadOnlySpan<byte> message, ref int position)
    {
        while (position < message.Length)
        {
            var length = message[position];
            if (length == 0)
            {
                position++;
                return true;
            }
            if ((length & 0xC0) == 0xC0)
            {
                position += 2; // a compression pointer ends the name
                return position <= message.Length;
            }
            if ((length & 0xC0) != 0)
                return false;
            position += 1 + length;
        }
        return false;
    }
}
