using System.Buffers.Binary;
using System.Collections.Concurrent;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Dns;

/// <summary>
/// The fast path: the wire-format answers the slow path (ARSoft + <see cref="Responder"/>) gave, kept per
/// <see cref="Zone"/> and replayed for equal queries by patching the ID, the question's case (0x20) and the
/// address order. A query is "equal" when its flags, type, class, EDNS presence, DO bit, clamped UDP size and
/// lower-cased name are; so a replayed answer is what the responder would have sent, byte for byte, up to the
/// shuffle. The cost of building an answer is paid once per name and zone; a new zone starts empty. NXDOMAIN
/// is the exception: <see cref="NxDomainAnswers"/> answers any missing name from one learned shape per kind of query.
/// Anything unusual (other opcodes, several questions, EDNS version ≠ 0, escapes in names, truncation, SRV
/// with several targets) always takes the slow path.
/// </summary>
internal sealed class PreparedAnswers
{
    /// <summary>Room for the key of any query: flags, type, class, EDNS (4 bytes) and a name of ≤255 bytes.</summary>
    public const int MaxKeyLength = KeyHeader + 255;

    // NXDOMAIN is answered by NxDomainAnswers without a per-name entry; the few it leaves (a name whose hash
    // clashes with an existing one, kinds of query beyond its limit) are kept per name, but only this many per
    // zone, so a random-subdomain flood cannot grow memory: beyond it they take the slow path.
    private const int MaxNegative = 10_000;

    private const int KeyHeader = 2 + 2 + 2 + 4;
    private const ushort OptType = 41, PtrType = 12;

    private Table table;

    public PreparedAnswers(Zone zone) => table = new Table(zone);

    /// <summary>What <see cref="TryAnswer"/> did.</summary>
    public enum Outcome
    {
        /// <summary>The answer is in the output buffer.</summary>
        Answered,

        /// <summary>Not known yet: answer on the slow path, then <see cref="Learn"/> from its response.</summary>
        Learnable,

        /// <summary>Not a query the fast path handles; the slow path answers it every time.</summary>
        SlowPathOnly,
    }

    /// <summary>Prepared answers held for the current zone (tests and benchmarks).</summary>
    public int Count => Volatile.Read(ref table).Entries.Count;

    /// <summary>
    /// Answers <paramref name="query"/> into <paramref name="output"/> when an answer is prepared and fits
    /// <paramref name="limit"/>. <paramref name="key"/> (at least <see cref="MaxKeyLength"/> bytes) receives the
    /// query's key; <paramref name="keyLength"/> is its length for <see cref="Outcome.Learnable"/>.
    /// Allocates nothing.
    /// </summary>
    public Outcome TryAnswer(ReadOnlySpan<byte> query, in WireMessage layout, Zone zone, Span<byte> output, int limit, Span<byte> key, out int length, out int keyLength)
    {
        length = 0;
        keyLength = ReadKey(query, layout, key);
        var questionEnd = layout.QuestionEnd;
        if (keyLength == 0)
            return Outcome.SlowPathOnly;
        var current = For(zone);
        if (!current.Lookup.TryGetValue(key[..keyLength], out var prepared))
        {
            // A name that does not exist: one answer shape per kind of query, not one entry per name.
            var name = key[KeyHeader..keyLength];
            if (current.NxDomain is { } nxDomain && nxDomain.IsNotFound(name, out var apexOffset))
                return nxDomain.TryWrite(query, questionEnd, name, apexOffset, key, output, limit, out length) ? Outcome.Answered : Outcome.Learnable;
            return Outcome.Learnable;
        }
        var bytes = prepared.Bytes;
        if (bytes.Length > limit || bytes.Length > output.Length)
            return Outcome.SlowPathOnly; // ARSoft truncates for this client; it stays the reference for TC
        bytes.CopyTo(output);
        query[..2].CopyTo(output);                                                             // ID
        query[WireMessage.HeaderLength..questionEnd].CopyTo(output[WireMessage.HeaderLength..]);             // question, as asked
        if (prepared.RecordSize > 0)
            Shuffle(output.Slice(prepared.AnswerStart, prepared.RecordSize * prepared.AnswerCount), prepared.RecordSize);
        length = bytes.Length;
        return Outcome.Answered;
    }

    /// <summary>
    /// Keeps <paramref name="response"/>, the slow path's answer to a query with <paramref name="key"/>, for
    /// <paramref name="zone"/> — unless the zone changed meanwhile, or the answer cannot be replayed as is.
    /// </summary>
    public void Learn(ReadOnlySpan<byte> key, Zone zone, ReadOnlySpan<byte> response)
    {
        var current = Volatile.Read(ref table);
        if (!ReferenceEquals(current.Zone, zone) || response.Length < WireMessage.HeaderLength)
            return;
        var flags = BinaryPrimitives.ReadUInt16BigEndian(response[2..]);
        if ((flags & 0x8000) == 0 || (flags & 0x0200) != 0) // a response, not truncated
            return;
        if (current.Entries.Count >= current.MaxEntries || current.Lookup.ContainsKey(key))
            return;
        var negative = (flags & 0x000F) == 3;
        if (negative && current.NxDomain is { } nxDomain && nxDomain.IsNotFound(key[KeyHeader..], out _) && nxDomain.Learn(key, response))
            return;
        if (negative && Volatile.Read(ref current.Negative) >= MaxNegative)
            return;
        if (Prepare(key, response) is not { } prepared)
            return;
        if (current.Entries.TryAdd(key.ToArray(), prepared) && negative)
            Interlocked.Increment(ref current.Negative);
    }

    /// <summary>Completes when the NXDOMAIN index of <paramref name="zone"/> is built (started by a query it has no entry for).</summary>
    internal Task NxDomainBuiltAsync(Zone zone) => For(zone).NxDomainBuilt;

    /// <summary>The NXDOMAIN index of <paramref name="zone"/> once built, else null (tests).</summary>
    internal NxDomainAnswers? NxDomainIndex(Zone zone) => For(zone).NxDomain;

    /// <summary>The table of <paramref name="zone"/>; a newer zone replaces the table (answers change with it).</summary>
    private Table For(Zone zone)
    {
        var current = Volatile.Read(ref table);
        if (ReferenceEquals(current.Zone, zone))
            return current;
        var fresh = new Table(zone, current);
        var seen = Interlocked.CompareExchange(ref table, fresh, current);
        return ReferenceEquals(seen, current) || !ReferenceEquals(seen.Zone, zone) ? fresh : seen;
    }

    /// <summary>
    /// The key of a plain query (QR=0, QUERY, one question, nothing else but an optional EDNS version 0 OPT),
    /// or 0 when the query is anything else. The name is lower-cased (RFC 4343) and may hold only letters,
    /// digits, '-' and '_', so ARSoft reads it exactly as we do.
    /// </summary>
    internal static int ReadKey(ReadOnlySpan<byte> query, in WireMessage layout, Span<byte> key)
    {
        if (!layout.IsQuery || (layout.Flags & 0x7800) != 0 || layout.Questions != 1 || layout.Answers != 0 || layout.Authorities != 0
            || layout.Additionals > 1 || layout.End != query.Length)
            return 0; // another opcode, several questions, records, or trailing bytes: leave it to ARSoft's parser
        if (layout.Additionals == 1 && (layout.OptStart != layout.QuestionEnd || layout.OptVersion != 0 || layout.OptExtendedRcode != 0))
            return 0; // a record other than OPT; BADVERS and extended RCODEs stay on the slow path (RFC 6891 §6.1.3)

        var name = key[KeyHeader..];
        var nameLength = 0;
        // The first question's name holds no pointer (WireMessage checked), so it is the bytes up to the root label.
        for (var position = WireMessage.HeaderLength; query[position] != 0; position += query[position] + 1)
        {
            int label = query[position];
            name[nameLength++] = (byte)label;
            for (var i = 1; i <= label; i++)
            {
                var c = query[position + i];
                if (c is >= (byte)'A' and <= (byte)'Z')
                    c = (byte)(c | 0x20);
                else if (c is not ((>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_'))
                    return 0;
                name[nameLength++] = c;
            }
        }
        name[nameLength++] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(key, layout.Flags);
        query.Slice(layout.QuestionEnd - 4, 4).CopyTo(key[2..]);  // type and class
        key.Slice(6, 4).Clear();
        if (layout.OptStart >= 0)
        {
            key[6] = 1;
            BinaryPrimitives.WriteUInt16BigEndian(key[7..], (ushort)layout.UdpLimit);
            key[9] = (byte)(layout.DnssecOk ? 1 : 0); // DO, the only flag the response copies (RFC 3225)
        }
        return KeyHeader + nameLength;
    }

    /// <summary>
    /// A replayable answer, or null: the question must be echoed as asked, and several answer records are only
    /// kept when they are addresses of one owner with one size (then their order is shuffled per response).
    /// </summary>
    private static Prepared? Prepare(ReadOnlySpan<byte> key, ReadOnlySpan<byte> response)
    {
        var nameLength = key.Length - KeyHeader;
        var questionEnd = WireMessage.HeaderLength + nameLength + 4;
        if (response.Length < questionEnd || BinaryPrimitives.ReadUInt16BigEndian(response[4..]) != 1)
            return null;
        // The question's name must be the query's (case aside), type and class too.
        for (var i = 0; i < nameLength; i++)
        {
            var c = response[WireMessage.HeaderLength + i];
            if ((c is >= (byte)'A' and <= (byte)'Z' ? (byte)(c | 0x20) : c) != key[KeyHeader + i])
                return null;
        }
        if (!response.Slice(WireMessage.HeaderLength + nameLength, 4).SequenceEqual(key.Slice(2, 4)))
            return null;

        int answers = BinaryPrimitives.ReadUInt16BigEndian(response[6..]);
        var prepared = new Prepared(response.ToArray(), 0, 0, 0);
        if (answers <= 1)
            return prepared;
        var type = BinaryPrimitives.ReadUInt16BigEndian(key[2..]);
        int authority = BinaryPrimitives.ReadUInt16BigEndian(response[8..]);
        int additional = BinaryPrimitives.ReadUInt16BigEndian(response[10..]);
        if (type == PtrType)
            return authority == 0 ? prepared : null; // the PTRs of an address come in a fixed order: replayed as they are
        if (type is not (1 or 28) || authority != 0 || additional > key[6] || answers >= Responder.MaxAddressAnswers)
            return null;
        // Each record: a pointer to the question (0xC00C), type, class, TTL, length, address.
        var recordSize = 2 + 10 + (type == 1 ? 4 : 16);
        if (questionEnd + answers * recordSize > response.Length)
            return null;
        for (var i = 0; i < answers; i++)
        {
            var record = response.Slice(questionEnd + i * recordSize, recordSize);
            if (BinaryPrimitives.ReadUInt16BigEndian(record) != 0xC00C || BinaryPrimitives.ReadUInt16BigEndian(record[2..]) != type
                || BinaryPrimitives.ReadUInt16BigEndian(record[10..]) != recordSize - 12)
                return null;
        }
        return prepared with { AnswerStart = questionEnd, AnswerCount = answers, RecordSize = recordSize };
    }

    /// <summary>Fisher–Yates over fixed-size records, as the responder shuffles its addresses.</summary>
    private static void Shuffle(Span<byte> records, int size)
    {
        Span<byte> swap = stackalloc byte[28];
        swap = swap[..size];
        for (var i = records.Length / size - 1; i > 0; i--)
        {
            var j = Random.Shared.Next(i + 1);
            if (j == i)
                continue;
            var a = records.Slice(i * size, size);
            var b = records.Slice(j * size, size);
            a.CopyTo(swap);
            b.CopyTo(a);
            swap.CopyTo(b);
        }
    }

    /// <param name="RecordSize">Size of each answer record when they are shuffled per response, else 0.</param>
    private sealed record Prepared(byte[] Bytes, int AnswerStart, int AnswerCount, int RecordSize);

    private sealed class Table
    {
        public Table(Zone zone, Table? previous = null)
        {
            Zone = zone;
            earlier = previous is null ? null : Volatile.Read(ref previous.nxDomain);
            Entries = new ConcurrentDictionary<byte[], Prepared>(KeyComparer.Instance);
            Lookup = Entries.GetAlternateLookup<ReadOnlySpan<byte>>();
            // Several flag and EDNS variants per name are normal (dig, resolvers, dnsperf); more is a flood.
            MaxEntries = MaxNegative + 4 * (zone.Names.Count + zone.Aliases.Count + zone.AliasParents.Count + 1
                + zone.Reverse.Apexes.Count + zone.Reverse.Pointers.Count + zone.Reverse.Parents.Count);
        }

        public Zone Zone { get; }
        public ConcurrentDictionary<byte[], Prepared> Entries { get; }
        public ConcurrentDictionary<byte[], Prepared>.AlternateLookup<ReadOnlySpan<byte>> Lookup { get; }
        public int MaxEntries { get; }
        public int Negative;
        public int Building;

        /// <summary>
        /// The zone's index of existing names, or null while it is being built. Building it walks every name (about
        /// 80 ms at 10,000 Services unless the previous version's hashes can be reused), so it happens off the query
        /// path, once per zone, started by the first query the table has no entry for; until it is ready, missing
        /// names take the slow path as unknown queries do.
        /// </summary>
        public NxDomainAnswers? NxDomain
        {
            get
            {
                var built = Volatile.Read(ref nxDomain);
                if (built is null && Interlocked.CompareExchange(ref Building, 1, 0) == 0)
                    _ = Task.Run(Build);
                return built;
            }
        }

        /// <summary>Completes when <see cref="NxDomain"/> is built (tests).</summary>
        public Task NxDomainBuilt => built.Task;

        private void Build()
        {
            try
            {
                Volatile.Write(ref nxDomain, new NxDomainAnswers(Zone, earlier));
                earlier = null; // only the newest index is kept alive
                built.TrySetResult();
            }
            finally
            {
                Volatile.Write(ref Building, 0);
            }
        }

        private readonly TaskCompletionSource built = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private NxDomainAnswers? nxDomain;
        private NxDomainAnswers? earlier; // the previous zone version's index, whose name hashes may be reused
    }

    private sealed class KeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] key) => GetHashCode((ReadOnlySpan<byte>)key);
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

        public int GetHashCode(ReadOnlySpan<byte> key)
        {
            var hash = new HashCode();
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }
}
