using System.Buffers.Binary;
using ARSoft.Tools.Net;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Dns;

/// <summary>
/// The fast path: the wire-format answers the slow path (ARSoft + <see cref="Responder"/>) gave, kept per
/// <see cref="Zone"/> and replayed for equal queries by patching the ID, the question's case (0x20) and the
/// address order. A query is "equal" when its flags, type, class, EDNS presence, DO bit, clamped UDP size and
/// lower-cased name are; so a replayed answer is what the responder would have sent, byte for byte, up to the
/// shuffle and the SOA serial, which is written in per zone. The cost of building an answer is paid once per name
/// until the name changes: a new zone keeps every answer but those of the names its <see cref="Zone.Change"/> lists
/// (all of them after a wildcard, reverse apex or settings change). NXDOMAIN is the exception:
/// <see cref="NxDomainAnswers"/> answers any missing name from one learned shape per kind of query.
/// Anything unusual (other opcodes, several questions, EDNS version ≠ 0, escapes in names, truncation, SRV
/// with several targets) always takes the slow path.
/// </summary>
internal sealed class PreparedAnswers
{
    /// <summary>Room for the key of any query: flags, type, class, EDNS (4 bytes) and a name of ≤255 bytes.</summary>
    public const int MaxKeyLength = KeyHeader + 255;

    // NXDOMAIN is answered by NxDomainAnswers without a per-name entry; the few it leaves (a name whose hash
    // clashes with an existing one, kinds of query beyond its limit) and refusals are kept per name, but only this
    // many, so a random-subdomain flood cannot grow memory nor crowd out the names that exist: beyond it they take
    // the slow path.
    private const int MaxNegative = 10_000;

    // Kinds of query (flags × type × EDNS) kept per name: a resolver asks a handful, a flood of odd flags no more.
    private const int MaxVariants = 256;

    private const int KeyHeader = 2 + 2 + 2 + 4;
    private const ushort OptType = 41, PtrType = 12, SoaType = 6;

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
    public int Count => Volatile.Read(ref table).Learned.Count;

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
        var name = key[KeyHeader..keyLength];
        var hash = NxDomainAnswers.Hash(name);
        if (current.Learned.Find(hash, key[..keyLength]) is not { } prepared)
        {
            // A name that does not exist: one answer shape per kind of query, not one entry per name.
            if (current.NxDomain is { } nxDomain && nxDomain.IsNotFound(name, hash, out var apexOffset))
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
        if (prepared.SerialAt > 0)
            BinaryPrimitives.WriteUInt32BigEndian(output[prepared.SerialAt..], current.Zone.Serial); // learned in an earlier version
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
        var learned = current.Learned;
        var hash = NxDomainAnswers.Hash(key[KeyHeader..]);
        if (learned.Count >= current.MaxEntries || learned.Find(hash, key) is not null)
            return;
        var rcode = flags & 0x000F;
        if (rcode == 3 && current.NxDomain is { } nxDomain && nxDomain.IsNotFound(key[KeyHeader..], hash, out _) && nxDomain.Learn(key, response))
            return;
        if (rcode != 0 && learned.Negative >= MaxNegative)
            return;
        if (Prepare(key, response, zone.Serial) is { } prepared)
            current.Add(hash, prepared with { Negative = rcode != 0 });
    }

    /// <summary>Completes when the NXDOMAIN index of <paramref name="zone"/> is built (started by a query it has no entry for).</summary>
    internal Task NxDomainBuiltAsync(Zone zone) => For(zone).NxDomainBuilt;

    /// <summary>The NXDOMAIN index of <paramref name="zone"/> once built, else null (tests).</summary>
    internal NxDomainAnswers? NxDomainIndex(Zone zone) => For(zone).NxDomain;

    /// <summary>
    /// The table of <paramref name="zone"/>; a newer zone replaces the table (answers change with it). A query that
    /// read the zone just before a newer one was swapped in gets the newer table: going back would drop what it holds.
    /// </summary>
    private Table For(Zone zone)
    {
        var current = Volatile.Read(ref table);
        if (ReferenceEquals(current.Zone, zone) || current.Zone.Change.Follows(zone.Change))
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
    private static Prepared? Prepare(ReadOnlySpan<byte> key, ReadOnlySpan<byte> response, uint serial)
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

        if (SerialOffset(response, serial) is not (>= 0 and var serialAt))
            return null;
        int answers = BinaryPrimitives.ReadUInt16BigEndian(response[6..]);
        var prepared = new Prepared(key.ToArray(), response.ToArray(), serialAt, 0, 0, 0);
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

    /// <summary>
    /// Where the SOA's SERIAL is in <paramref name="response"/> (negative answers and the apex's SOA carry one), so a
    /// later zone version writes its own there; 0 without an SOA; -1 when the response is not what we expect (more
    /// than one SOA, or one citing another serial).
    /// </summary>
    private static int SerialOffset(ReadOnlySpan<byte> response, uint serial)
    {
        var layout = WireMessage.Read(response);
        if (!layout.HoldsTogether)
            return -1;
        var serialAt = 0;
        var position = layout.AnswerStart;
        for (var i = 0; i < layout.Answers + layout.Authorities; i++)
        {
            if (!WireMessage.SkipName(response, ref position, pointers: true))
                return -1;
            var rdata = position + 10;
            var end = rdata + BinaryPrimitives.ReadUInt16BigEndian(response[(position + 8)..]);
            if (BinaryPrimitives.ReadUInt16BigEndian(response[position..]) == SoaType)
            {
                var at = rdata;
                if (serialAt != 0 || !WireMessage.SkipName(response, ref at, pointers: true) || !WireMessage.SkipName(response, ref at, pointers: true)
                    || at + 4 > end || BinaryPrimitives.ReadUInt32BigEndian(response[at..]) != serial)
                    return -1;
                serialAt = at;
            }
            position = end;
        }
        return serialAt;
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

    /// <param name="Key">The query's key (<see cref="ReadKey"/>).</param>
    /// <param name="SerialAt">Where the SOA serial is in <paramref name="Bytes"/>, else 0.</param>
    /// <param name="RecordSize">Size of each answer record when they are shuffled per response, else 0.</param>
    private sealed record Prepared(byte[] Key, byte[] Bytes, int SerialAt, int AnswerStart, int AnswerCount, int RecordSize)
    {
        /// <summary>Not a NOERROR answer (NXDOMAIN the index could not take, REFUSED): few of them are kept.</summary>
        public bool Negative { get; init; }
    }

    /// <summary>
    /// The answers learned so far, per name hash (<see cref="NxDomainAnswers.Hash(ReadOnlySpan{byte})"/>) the kinds
    /// of query asked of that name. Immutable and persistent: a new zone version takes this with its changed names
    /// removed, in O(change), and learning swaps in a new version.
    /// </summary>
    private sealed record Learned(HashTrie<Prepared[]> Answers, int Count, int Negative)
    {
        public static readonly Learned Empty = new(HashTrie<Prepared[]>.Empty, 0, 0);

        public Prepared? Find(ulong hash, ReadOnlySpan<byte> key)
        {
            if (!Answers.TryGetValue(hash, out var variants))
                return null;
            foreach (var prepared in variants)
            {
                if (key.SequenceEqual(prepared.Key))
                    return prepared;
            }
            return null;
        }

        /// <summary>Without the answers of <paramref name="names"/> (and of any name sharing a hash with one).</summary>
        public Learned Without(IReadOnlyCollection<DomainName> names)
        {
            var (answers, count, negative) = (Answers, Count, Negative);
            foreach (var name in names)
            {
                var hash = NxDomainAnswers.Hash(name);
                if (!answers.TryGetValue(hash, out var variants))
                    continue;
                answers = answers.Remove(hash);
                count -= variants.Length;
                negative -= variants.Count(p => p.Negative);
            }
            return new(answers, count, negative);
        }

        public Learned With(ulong hash, Prepared prepared)
        {
            var variants = Answers.TryGetValue(hash, out var known) ? known : [];
            if (variants.Length >= MaxVariants || Find(hash, prepared.Key) is not null)
                return this;
            return new(Answers.SetItem(hash, [.. variants, prepared]), Count + 1, Negative + (prepared.Negative ? 1 : 0));
        }
    }

    private sealed class Table
    {
        /// <summary>
        /// The table of <paramref name="zone"/>, after <paramref name="previous"/>'s: its answers and NXDOMAIN index
        /// carry over but for the names changed since (a few per EndpointSlice change), unless the zone cannot be
        /// traced back to the previous one.
        /// </summary>
        public Table(Zone zone, Table? previous = null)
        {
            Zone = zone;
            // Several flag and EDNS variants per name are normal (dig, resolvers, dnsperf); more is a flood.
            MaxEntries = MaxNegative + 4 * (zone.Names.Count + zone.Aliases.Count + zone.AliasParents.Count + 1
                + zone.Reverse.Apexes.Count + zone.Reverse.Pointers.Count + zone.Reverse.Parents.Count);
            if (previous is null)
                return;
            var index = Volatile.Read(ref previous.nxDomain);
            if (zone.Change.Since(previous.Zone.Change, out var beyondNames) is not { } changed)
            {
                earlier = index; // its shape is reused only when it is traced back to; NxDomainAnswers decides
                return;
            }
            if (!beyondNames)
                learned = previous.Learned.Without(changed);
            if (index is null)
                return;
            nxDomain = new NxDomainAnswers(zone, index);
            built.TrySetResult();
        }

        public Zone Zone { get; }
        public int MaxEntries { get; }
        public int Building;

        public Learned Learned => Volatile.Read(ref learned);

        /// <summary>Adds an answer, unless another thread just added it (the learned answers are swapped whole, without a lock).</summary>
        public void Add(ulong hash, Prepared prepared)
        {
            for (var before = Learned; ;)
            {
                var after = before.With(hash, prepared);
                var seen = Interlocked.CompareExchange(ref learned, after, before);
                if (ReferenceEquals(seen, before))
                    return;
                before = seen;
            }
        }

        /// <summary>
        /// The zone's index of existing names, or null while it is being built. Carried over from the previous version's
        /// it costs what changed; built afresh (the first zone, new settings, a version not traced back to) it walks every
        /// name (about 80 ms at 10,000 Services), so that happens off the query path, started by the first query the
        /// table has no entry for; until it is ready, missing names take the slow path as unknown queries do.
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
        private Learned learned = Learned.Empty;
        private NxDomainAnswers? nxDomain;
        private NxDomainAnswers? earlier; // the previous zone version's index, whose shapes and hashes may be reused
    }

}
