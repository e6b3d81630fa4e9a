using System.Buffers.Binary;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>Hand-built queries for the cases ARSoft's client cannot express (QR=1, QDCOUNT=2, opcode 15, EDNS version 1, ...).</summary>
internal static class RawQuery
{
    public sealed record Edns(ushort Size = 1232, byte Version = 0, bool DnssecOk = false, ushort ZFlags = 0, byte[]? Option = null);

    public static byte[] Build(string name, RecordType type = RecordType.A, ushort recordClass = 1, ushort id = 0x4d4c, int opcode = 0,
        bool response = false, int questions = 1, Edns? edns = null, bool recursionDesired = false)
    {
        var bytes = new List<byte>();
        void U16(int value) => bytes.AddRange([(byte)(value >> 8), (byte)value]);
        var flags = (response ? 0x8000 : 0) | (opcode << 11) | (recursionDesired ? 0x0100 : 0);
        U16(id);
        U16(flags);
        U16(questions);
        U16(0);
        U16(0);
        U16(edns is null ? 0 : 1);
        for (var i = 0; i < questions; i++)
        {
            foreach (var label in name.TrimEnd('.').Split('.'))
            {
                bytes.Add((byte)label.Length);
                bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
            }
            bytes.Add(0);
            U16((int)type);
            U16(recordClass);
        }
        if (edns is not null)
        {
            bytes.Add(0); // root owner
            U16(41);
            U16(edns.Size);
            bytes.Add(0); // extended RCODE
            bytes.Add(edns.Version);
            U16((edns.DnssecOk ? 0x8000 : 0) | edns.ZFlags);
            var option = edns.Option ?? [];
            U16(option.Length);
            bytes.AddRange(option);
        }
        return [.. bytes];
    }

    /// <summary>An EDNS option with an unassigned code and the given payload size.</summary>
    public static byte[] UnknownOption(int length) => [0xfd, 0xe9, (byte)(length >> 8), (byte)length, .. new byte[length]];

    /// <summary>The question section of a message (after the 12-byte header), byte for byte.</summary>
    public static byte[] QuestionSection(byte[] message)
    {
        var position = 12;
        while (message[position] != 0)
            position += message[position] + 1;
        return message[12..(position + 5)];
    }

    public static bool Flag(byte[] message, int mask) => (BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2)) & mask) != 0;

    public const int QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080;
}
