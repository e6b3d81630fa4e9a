using System.Buffers.Binary;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Tests.Dns.Fuzzing;

/// <summary>
/// Hostile DNS messages, mostly mutations of well-formed queries: random bytes, empty and truncated messages,
/// compression-pointer loops, oversized labels and names, lying section counts, garbage EDNS, QR=1, odd opcodes.
/// Deterministic for a seed, so a failure can be replayed.
/// </summary>
internal sealed class HostilePackets(Random random)
{
    private static readonly string[] SeedNames =
    [
        "web.default.minilb", "WeB.DeFaUlT.MiNiLb", "big.default.minilb", "dual.default.minilb", "_http._tcp.big.default.minilb",
        "minilb", "default.minilb", "nothing.default.minilb", "example.com", "10-244-0-11.big.default.minilb",
    ];

    private static readonly RecordType[] SeedTypes = [RecordType.A, RecordType.Aaaa, RecordType.Srv, RecordType.Any, RecordType.Soa, RecordType.Ns, RecordType.Txt, RecordType.Axfr];

    /// <summary>Names of the kinds of damage, for the counts in the report.</summary>
    public static readonly string[] Kinds =
    [
        "random bytes", "empty", "truncated", "bit flips", "pointer loop", "pointer out of range", "oversized label",
        "oversized name", "lying counts", "garbage EDNS", "QR=1", "odd header bits", "odd type or class", "extra records",
    ];

    public int LastKind { get; private set; }

    /// <summary>A well-formed query to start a mutation from.</summary>
    public byte[] Seed() => RawQuery.Build(
        SeedNames[random.Next(SeedNames.Length)], SeedTypes[random.Next(SeedTypes.Length)], id: (ushort)random.Next(65536),
        edns: random.Next(2) == 0 ? null : new RawQuery.Edns(Size: (ushort)random.Next(65536), DnssecOk: random.Next(2) == 0),
        recursionDesired: random.Next(2) == 0);

    public byte[] Next()
    {
        LastKind = random.Next(Kinds.Length);
        var query = Seed();
        switch (LastKind)
        {
            case 0:
                return Bytes(random.Next(1, 700));
            case 1:
                return [];
            case 2:
                return query[..random.Next(query.Length)];
            case 3:
                for (var i = random.Next(1, 9); i > 0; i--)
                    query[random.Next(query.Length)] ^= (byte)(1 << random.Next(8));
                return query;
            case 4:
                return PointerLoop(query);
            case 5:
                return [.. query[..12], (byte)(0xC0 | random.Next(0x40)), (byte)random.Next(256), .. query[^4..]];
            case 6:
                return WithName(query, [(byte)random.Next(64, 256), .. Bytes(random.Next(0, 300)), 0]);
            case 7:
                return WithName(query, LongName());
            case 8:
                for (var offset = 4; offset < 12; offset += 2)
                {
                    if (random.Next(2) == 0)
                        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(offset), (ushort)(random.Next(3) == 0 ? random.Next(65536) : random.Next(4)));
                }
                return query;
            case 9:
                return GarbageEdns(query);
            case 10:
                query[2] |= 0x80;
                return query;
            case 11:
                query[2] = (byte)random.Next(256);
                query[3] = (byte)random.Next(256);
                return query;
            case 12:
                BinaryPrimitives.WriteUInt32BigEndian(query.AsSpan(QuestionEnd(query) - 4), (uint)random.Next());
                return query;
            default:
                return ExtraRecords(query);
        }
    }

    private byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>The question name replaced by pointers that never reach a terminating zero.</summary>
    private byte[] PointerLoop(byte[] query)
    {
        var tail = query[QuestionEnd(query)..];
        byte[] name = random.Next(3) switch
        {
            0 => [0xC0, 12],                                   // points at itself
            1 => [1, (byte)'a', 0xC0, 12],                     // a label, then back to the start
            _ => [1, (byte)'a', 0xC0, 16, 1, (byte)'b', 0xC0, 12], // two names pointing at each other
        };
        return [.. query[..12], .. name, .. query[(QuestionEnd(query) - 4)..QuestionEnd(query)], .. tail];
    }

    private byte[] LongName()
    {
        var name = new List<byte>();
        var labelLength = random.Next(3) switch { 0 => 1, 1 => 63, _ => random.Next(1, 64) };
        var labels = random.Next(5, 200);
        for (var i = 0; i < labels; i++)
        {
            name.Add((byte)labelLength);
            name.AddRange(Enumerable.Repeat((byte)'x', labelLength));
        }
        name.Add(0);
        return [.. name];
    }

    private byte[] WithName(byte[] query, byte[] name) =>
        [.. query[..12], .. name, .. query[(QuestionEnd(query) - 4)..]];

    /// <summary>An OPT record made of nonsense: lying option lengths, unknown and known codes, a second OPT, version 255.</summary>
    private byte[] GarbageEdns(byte[] query)
    {
        var plain = query[..QuestionEnd(query)];
        plain[10] = 0;
        plain[11] = 0;
        var records = new List<byte>();
        var count = random.Next(1, 3);
        for (var r = 0; r < count; r++)
        {
            var options = new List<byte>();
            for (var o = random.Next(0, 5); o > 0; o--)
            {
                var code = random.Next(4) switch { 0 => 8 /* client subnet */, 1 => 10 /* cookie */, 2 => 12 /* padding */, _ => random.Next(65536) };
                var data = Bytes(random.Next(0, 40));
                var claimed = random.Next(3) == 0 ? random.Next(65536) : data.Length;
                options.AddRange([(byte)(code >> 8), (byte)code, (byte)(claimed >> 8), (byte)claimed, .. data]);
            }
            var rdLength = random.Next(4) == 0 ? random.Next(65536) : options.Count;
            records.AddRange(random.Next(5) == 0 ? new byte[] { 1, (byte)'x', 0 } : new byte[] { 0 }); // OPT owner must be the root
            records.AddRange([0, 41, (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)(random.Next(4) == 0 ? random.Next(256) : 0),
                (byte)random.Next(256), (byte)random.Next(256), (byte)(rdLength >> 8), (byte)rdLength, .. options]);
        }
        plain[11] = (byte)count;
        return [.. plain, .. records];
    }

    /// <summary>Answer, authority or additional records a query should not carry, some with lying data lengths.</summary>
    private byte[] ExtraRecords(byte[] query)
    {
        var plain = query[..QuestionEnd(query)];
        var counts = new int[3];
        var records = new List<byte>();
        for (var r = random.Next(1, 6); r > 0; r--)
        {
            counts[random.Next(3)]++;
            var type = random.Next(3) == 0 ? random.Next(65536) : (int)SeedTypes[random.Next(SeedTypes.Length)];
            var data = Bytes(random.Next(0, 30));
            var claimed = random.Next(3) == 0 ? random.Next(65536) : data.Length;
            records.AddRange([0xC0, 12, (byte)(type >> 8), (byte)type, 0, 1, 0, 0, 0, 5, (byte)(claimed >> 8), (byte)claimed, .. data]);
        }
        for (var i = 0; i < 3; i++)
            BinaryPrimitives.WriteUInt16BigEndian(plain.AsSpan(6 + 2 * i), (ushort)counts[i]);
        return [.. plain, .. records];
    }

    /// <summary>Where the question of a well-formed query ends.</summary>
    private static int QuestionEnd(byte[] query)
    {
        var position = 12;
        while (query[position] != 0)
            position += query[position] + 1;
        return position + 5;
    }
}
