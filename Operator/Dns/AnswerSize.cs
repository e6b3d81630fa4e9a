using System.Runtime.CompilerServices;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// The size stage: writes a response so that it fits its transport, the same way for every record type.
/// First the additional records go (glue, the addresses of SRV targets; the client can ask for them). Then over
/// UDP the authority and answer records are cut from the end with TC=1, so the client retries over TCP
/// (RFC 2181 §9); over TCP the answer is cut from the end without TC, as the responder caps large address sets:
/// the responder shuffled it, so each query gets a different random part. A name that exists never gets
/// SERVFAIL for being large.
/// </summary>
internal static class AnswerSize
{
    /// <summary>
    /// Writes <paramref name="response"/> into <paramref name="output"/> within <paramref name="limit"/> bytes,
    /// shrinking it as needed (the message is changed). Whole is false when anything was left out.
    /// </summary>
    public static (int Length, bool Whole) Fit(DnsMessageBase response, Span<byte> output, int limit, TransportProtocol transport)
    {
        var encoded = Encode(response).ToArraySegment(false);
        if (encoded.Count <= limit)
            return (Copy(encoded, output), true);

        if (response is DnsMessage message)
        {
            if (message.AdditionalRecords.RemoveAll(r => r.RecordType != RecordType.Opt) > 0)
            {
                encoded = Encode(message).ToArraySegment(false);
                if (encoded.Count <= limit)
                    return (Copy(encoded, output), false);
            }
            if (transport == TransportProtocol.Udp)
            {
                message.IsTruncated = true;
                if (Shrink(message, message.AuthorityRecords, limit, ref encoded) || Shrink(message, message.AnswerRecords, limit, ref encoded))
                    return (Copy(encoded, output), false);
            }
            else if (Shrink(message, message.AnswerRecords, limit, ref encoded))
            {
                return (Copy(encoded, output), false);
            }
        }
        // Nothing left to cut (a question alone cannot be this large): header and question, TC=1.
        var layout = WireMessage.Read(encoded);
        return (layout.WriteEmptyResponse(encoded, output, response.ReturnCode, truncated: true), false);
    }

    /// <summary>
    /// Writes an upstream's <paramref name="answer"/> to a forwarded <paramref name="query"/> as it came, but with
    /// the client's ID and question (0x20 case) and AA=0 (it is not ours), when it fits <paramref name="limit"/>;
    /// otherwise the header and question with TC=1 (and an OPT record if the client sent one), so the client asks
    /// again over TCP and gets it whole (RFC 2181 §9). The answer's question must be the query's but for case, at
    /// the same place (the forwarder checks). Never longer than the limit: relaying must not amplify.
    /// </summary>
    public static int Relay(ReadOnlySpan<byte> query, in WireMessage layout, ReadOnlySpan<byte> answer, Span<byte> output, int limit)
    {
        int length;
        if (answer.Length <= limit)
        {
            answer.CopyTo(output);
            query[..2].CopyTo(output);
            query[WireMessage.HeaderLength..layout.QuestionEnd].CopyTo(output[WireMessage.HeaderLength..]);
            length = answer.Length;
        }
        else
        {
            length = layout.WriteEmptyResponse(query, output, (ReturnCode)(answer[3] & 0x0F), truncated: true);
            if (layout.OptStart >= 0)
            {
                // RFC 6891 §7: an OPT in the reply to a query that had one; our own size, version 0, DO copied.
                ReadOnlySpan<byte> opt = [0, 0, 41, Responder.MaxUdpPayloadSize >> 8, Responder.MaxUdpPayloadSize & 0xFF, 0, 0, 0, 0, 0, 0];
                opt.CopyTo(output[length..]);
                if (layout.DnssecOk)
                    output[length + 7] = 0x80;
                output[11] = 1; // ARCOUNT
                length += opt.Length;
            }
        }
        output[2] &= 0xFB; // AA=0
        return length;
    }

    /// <summary>
    /// Cuts records from the end of <paramref name="section"/> until the message fits: as many as the excess
    /// needs at the section's average record size, then one more at a time (compression makes sizes vary).
    /// </summary>
    private static bool Shrink(DnsMessageBase message, List<DnsRecordBase> section, int limit, ref ArraySegment<byte> encoded)
    {
        while (section.Count > 0)
        {
            var layout = WireMessage.Read(encoded);
            var bytes = ReferenceEquals(section, (message as DnsMessage)?.AnswerRecords)
                ? layout.AuthorityStart - layout.AnswerStart
                : layout.AdditionalStart - layout.AuthorityStart;
            var average = Math.Max(1, bytes / section.Count);
            var cut = Math.Clamp((encoded.Count - limit + average - 1) / average, 1, section.Count);
            section.RemoveRange(section.Count - cut, cut);
            encoded = Encode(message).ToArraySegment(false);
            if (encoded.Count <= limit)
                return true;
        }
        return false;
    }

    private static int Copy(ArraySegment<byte> encoded, Span<byte> output)
    {
        encoded.AsSpan().CopyTo(output);
        return encoded.Count;
    }

    /// <summary>ARSoft's writer (name compression included); internal in ARSoft 3.6.1, whose server loop calls it.</summary>
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Encode")]
    private static extern DnsRawPackage Encode(DnsMessageBase message);
}
