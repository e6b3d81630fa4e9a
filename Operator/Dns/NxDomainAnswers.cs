using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using ARSoft.Tools.Net;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Dns;

/// <summary>
/// NXDOMAIN on the fast path without an entry per name: which names of a <see cref="Zone"/> exist, as hashes of
/// their lower-cased wire form, and the shape of the slow path's NXDOMAIN answer per kind of query (flags, type,
/// class, EDNS), learned once. A query for any other name below the apex then gets the header and OPT the slow
/// path gave, its own question, and the SOA the responder would cite (RFC 2308 §3), written here. A random-name
/// flood costs neither memory nor allocations. A hash collision only makes a missing name look present: it takes
/// the slow path, which answers it correctly.
/// </summary>
internal sealed class NxDomainAnswers
{
    // Kinds of query (flags × type × class × EDNS) with a learned shape; more is a flood of odd flags.
    private const int MaxShapes = 1024;
    private const ushort SoaType = 6, InternetClass = 1;

    private readonly NameIndex index;
    private readonly byte[] apex, nameServer, hostmaster; // lower-cased wire forms
    private readonly Dictionary<ulong, byte[]> reverseApexes = []; // hash → lower-cased wire form of each reverse zone apex
    private readonly byte[] ttl = new byte[4];
    private readonly byte[] timers = new byte[20];        // SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM
    private readonly ConcurrentDictionary<(ulong, ushort), Shape> shapes = new();

    /// <summary>
    /// The index of <paramref name="zone"/>. With <paramref name="previous"/>, an earlier version's index, only the
    /// names added or removed since are hashed: hashing all of them took 80 ms of a core at 10,000 Services, paid
    /// for every zone version that gets queries, so under endpoint churn.
    /// </summary>
    public NxDomainAnswers(Zone zone, NxDomainAnswers? previous = null)
    {
        index = new NameIndex(zone, previous?.index);
        apex = WireName(zone.Apex);
        nameServer = WireName(zone.NameServer);
        hostmaster = WireName(zone.Hostmaster);
        foreach (var reverseApex in zone.Reverse.Apexes.Keys)
            reverseApexes[Hash(reverseApex)] = WireName(reverseApex);
        BinaryPrimitives.WriteUInt32BigEndian(ttl, (uint)zone.Settings.Ttl);
        BinaryPrimitives.WriteUInt32BigEndian(timers, zone.Serial);
        BinaryPrimitives.WriteUInt32BigEndian(timers.AsSpan(4), Responder.Refresh);
        BinaryPrimitives.WriteUInt32BigEndian(timers.AsSpan(8), Responder.Retry);
        BinaryPrimitives.WriteUInt32BigEndian(timers.AsSpan(12), Responder.Expire);
        BinaryPrimitives.WriteUInt32BigEndian(timers.AsSpan(16), (uint)zone.Settings.Ttl);
    }

    /// <summary>Names hashed to build this index: all of them, or those changed since the previous version (tests).</summary>
    internal int NamesHashed => index.Hashed;

    /// <summary>
    /// True when the responder answers <paramref name="name"/> (lower-cased wire form) with NXDOMAIN: strictly
    /// below the apex, no name, alias or empty non-terminal there, and no wildcard covering it (as
    /// <see cref="Zone.Find"/>). Sets <paramref name="apexOffset"/> to where the apex starts in the name.
    /// </summary>
    public bool IsNotFound(ReadOnlySpan<byte> name, out int apexOffset)
    {
        apexOffset = ApexOffset(name);
        if (apexOffset <= 0 || index.Contains(Hash(name)))
            return false;
        if (index.OneLabelWildcards.Count == 0 && index.MultiLabelWildcards.Count == 0)
            return true;
        for (var position = name[0] + 1; name[position] != 0; position += name[position] + 1)
        {
            var suffix = Hash(name[position..]);
            if ((position == name[0] + 1 && index.OneLabelWildcards.Contains(suffix)) || index.MultiLabelWildcards.Contains(suffix))
                return false;
        }
        return true;
    }

    /// <summary>
    /// Writes the NXDOMAIN answer to a query whose key is <paramref name="key"/> and whose question ends at
    /// <paramref name="questionEnd"/>, when the slow path's shape for this kind of query is known and fits.
    /// </summary>
    public bool TryWrite(ReadOnlySpan<byte> query, int questionEnd, ReadOnlySpan<byte> name, int apexOffset, ReadOnlySpan<byte> key, Span<byte> output, int limit, out int length)
    {
        length = 0;
        if (!shapes.TryGetValue(ShapeKey(key), out var shape))
            return false;
        // At most: owner pointer, TYPE … RDLENGTH, two names, the timers, then the learned additional section.
        var largest = questionEnd + 12 + nameServer.Length + hostmaster.Length + timers.Length + shape.Additional.Length;
        if (largest > limit || largest > output.Length)
            return false;
        query[..2].CopyTo(output);
        BinaryPrimitives.WriteUInt16BigEndian(output[2..], shape.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(output[4..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(output[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(output[8..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(output[10..], shape.AdditionalCount);
        query[WireMessage.HeaderLength..questionEnd].CopyTo(output[WireMessage.HeaderLength..]);

        // The SOA as ARSoft compresses it: every name points at the longest suffix the question already holds.
        var position = questionEnd;
        BinaryPrimitives.WriteUInt16BigEndian(output[position..], (ushort)(0xC000 | (WireMessage.HeaderLength + apexOffset)));
        BinaryPrimitives.WriteUInt16BigEndian(output[(position + 2)..], SoaType);
        BinaryPrimitives.WriteUInt16BigEndian(output[(position + 4)..], InternetClass);
        ttl.CopyTo(output[(position + 6)..]);
        var rdataStart = position + 12;
        position = WriteCompressed(nameServer, name, output, rdataStart);
        // Outside the forward zone (a reverse zone) the question holds no suffix of the hostmaster's name, but the
        // name server written just before may: ARSoft points there.
        var literal = position - rdataStart - (position - rdataStart == nameServer.Length ? 0 : 2);
        position = WriteCompressed(hostmaster, name, output, position, nameServer.AsSpan(), rdataStart, literal);
        timers.CopyTo(output[position..]);
        position += timers.Length;
        BinaryPrimitives.WriteUInt16BigEndian(output[(rdataStart - 2)..], (ushort)(position - rdataStart));
        shape.Additional.CopyTo(output[position..]);
        length = position + shape.Additional.Length;
        return true;
    }

    /// <summary>
    /// Writes <paramref name="target"/> at <paramref name="position"/>: its leading labels, then a pointer to the
    /// longest rest of it that ends the question's <paramref name="name"/>, or all of it when nothing does.
    /// </summary>
    /// <param name="earlier">A name written before at <paramref name="earlierOffset"/>, whose first <paramref name="earlierLiteral"/> bytes are labels (not a pointer) and so can be pointed at.</param>
    private static int WriteCompressed(ReadOnlySpan<byte> target, ReadOnlySpan<byte> name, Span<byte> output, int position,
        ReadOnlySpan<byte> earlier = default, int earlierOffset = 0, int earlierLiteral = 0)
    {
        for (var start = 0; target[start] != 0; start += target[start] + 1)
        {
            var rest = target[start..];
            var pointer = SuffixAt(name, rest, name.Length, WireMessage.HeaderLength);
            if (pointer < 0 && earlierLiteral > 0)
                pointer = SuffixAt(earlier, rest, earlierLiteral, earlierOffset);
            if (pointer < 0)
                continue;
            target[..start].CopyTo(output[position..]);
            BinaryPrimitives.WriteUInt16BigEndian(output[(position + start)..], (ushort)(0xC000 | pointer));
            return position + start + 2;
        }
        target.CopyTo(output[position..]);
        return position + target.Length;
    }

    /// <summary>The message offset of <paramref name="rest"/> as a suffix of <paramref name="written"/> (written at <paramref name="offset"/>) starting within its first <paramref name="within"/> bytes, or -1.</summary>
    private static int SuffixAt(ReadOnlySpan<byte> written, ReadOnlySpan<byte> rest, int within, int offset)
    {
        for (var at = 0; at < within && written.Length - at >= rest.Length; at += written[at] + 1)
        {
            if (written.Length - at == rest.Length && written[at..].SequenceEqual(rest))
                return offset + at;
        }
        return -1;
    }

    /// <summary>
    /// Keeps the shape of <paramref name="response"/>, the slow path's NXDOMAIN answer to a query with
    /// <paramref name="key"/>: its flags and its additional section (the OPT record), when it is the expected
    /// question + one SOA + at most one additional record.
    /// </summary>
    public bool Learn(ReadOnlySpan<byte> key, ReadOnlySpan<byte> response)
    {
        var layout = WireMessage.Read(response);
        if (shapes.Count >= MaxShapes || !layout.HoldsTogether || layout.Questions != 1 || layout.Answers != 0 || layout.Authorities != 1
            || layout.Additionals > 1 || layout.FirstAuthorityType != SoaType)
            return false;
        shapes.TryAdd(ShapeKey(key), new Shape(layout.Flags, (ushort)layout.Additionals, response[layout.AdditionalStart..layout.End].ToArray()));
        return true;
    }

    /// <summary>
    /// Where the apex of the zone holding <paramref name="name"/> starts in it (at a label boundary): the forward
    /// zone's, else the closest reverse zone's (as <see cref="ReverseZones.Find"/>); -1 when no zone holds it.
    /// </summary>
    private int ApexOffset(ReadOnlySpan<byte> name)
    {
        for (var position = 0; position + apex.Length <= name.Length && name[position] != 0; position += name[position] + 1)
        {
            if (position + apex.Length == name.Length && name[position..].SequenceEqual(apex))
                return position;
        }
        if (reverseApexes.Count == 0)
            return -1;
        for (var position = 0; name[position] != 0; position += name[position] + 1)
        {
            var suffix = name[position..];
            if (reverseApexes.TryGetValue(Hash(suffix), out var reverseApex) && suffix.SequenceEqual(reverseApex))
                return position;
        }
        return -1;
    }

    /// <summary>Flags, type, class and EDNS of a query key (<see cref="PreparedAnswers.ReadKey"/>): all but the name.</summary>
    private static (ulong, ushort) ShapeKey(ReadOnlySpan<byte> key) =>
        (BinaryPrimitives.ReadUInt64BigEndian(key), BinaryPrimitives.ReadUInt16BigEndian(key[8..]));

    /// <summary>The lower-cased wire form of <paramref name="name"/> (characters beyond ASCII folded into a byte:
    /// such names never match a fast-path query, so a clash only sends a query to the slow path).</summary>
    private static byte[] WireName(DomainName name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.Labels)
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(label.Select(c => (byte)char.ToLowerInvariant(c)));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    private const ulong FnvOffset = 14695981039346656037UL, FnvPrime = 1099511628211UL;

    /// <summary>FNV-1a, 64 bits, of a lower-cased wire-form name.</summary>
    private static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = FnvOffset;
        foreach (var b in bytes)
            hash = (hash ^ b) * FnvPrime;
        return hash;
    }

    /// <summary>The same hash as of <see cref="WireName"/>'s bytes, without making them (80,000 names at 10k Services).</summary>
    private static ulong Hash(DomainName name)
    {
        var hash = FnvOffset;
        foreach (var label in name.Labels)
        {
            hash = (hash ^ (byte)label.Length) * FnvPrime;
            foreach (var c in label)
                hash = (hash ^ (byte)char.ToLowerInvariant(c)) * FnvPrime;
        }
        return (hash ^ 0) * FnvPrime;
    }

    /// <summary>
    /// Which names of a zone exist, as hashes. The zone's own names (tens of thousands at 10,000 Services) and the
    /// PTR owners and their parents in the reverse zones (one per served address) are counted per hash and carried
    /// over from the previous version's index (<see cref="CountedHashes"/>). Aliases, their parents and wildcards
    /// are few and hashed again.
    /// </summary>
    private sealed class NameIndex
    {
        private readonly CountedHashes names, pointers, pointerParents;
        private readonly HashSet<ulong> aliases = [];

        public NameIndex(Zone zone, NameIndex? previous)
        {
            names = CountedHashes.Of(zone.Names, previous?.names);
            // Without a reverse zone no PTR owner is ever asked for here (ApexOffset finds no apex): nothing to hash.
            var reverse = zone.Reverse.Apexes.IsEmpty ? ReverseZones.Empty : zone.Reverse;
            pointers = CountedHashes.Of(reverse.Pointers, previous?.pointers);
            pointerParents = CountedHashes.Of(reverse.Parents, previous?.pointerParents);
            foreach (var name in zone.Aliases.Keys.Concat(zone.AliasParents.Keys))
                aliases.Add(Hash(name));
            foreach (var name in zone.OneLabelWildcards.Keys)
                OneLabelWildcards.Add(Hash(name));
            foreach (var name in zone.MultiLabelWildcards.Keys)
                MultiLabelWildcards.Add(Hash(name));
        }

        public HashSet<ulong> OneLabelWildcards { get; } = [];
        public HashSet<ulong> MultiLabelWildcards { get; } = [];

        /// <summary>Names hashed to build this index (all of them without a previous index; tests and benchmarks).</summary>
        public int Hashed => names.Hashed + pointers.Hashed + pointerParents.Hashed;

        public bool Contains(ulong hash) => names.Contains(hash) || aliases.Contains(hash) || pointers.Contains(hash) || pointerParents.Contains(hash);
    }

    /// <summary>
    /// The names of one of a zone's dictionaries as hashes, counted per hash. Only names added or removed since the
    /// previous version are hashed, found by walking both versions in the dictionary's order (by hash code, which
    /// <see cref="DomainName"/> caches).
    /// </summary>
    private sealed class CountedHashes
    {
        private readonly object source;               // the zone's dictionary this index holds
        private readonly DomainName[] order;          // its names in its order
        private readonly Dictionary<ulong, int> names; // hash → how many of the names have it; read-only once built

        private CountedHashes(object source, DomainName[] order, Dictionary<ulong, int> names)
        {
            this.source = source;
            this.order = order;
            this.names = names;
        }

        /// <summary>Names hashed to build this index.</summary>
        public int Hashed { get; private set; }

        public bool Contains(ulong hash) => names.ContainsKey(hash);

        public static CountedHashes Of<T>(ImmutableDictionary<DomainName, T> source, CountedHashes? previous)
        {
            // The same dictionary (e.g. only aliases changed): share its hashes as they are.
            if (previous is not null && ReferenceEquals(previous.source, source))
                return new CountedHashes(source, previous.order, previous.names);
            var order = new DomainName[source.Count];
            var hashes = previous is null ? new Dictionary<ulong, int>(source.Count) : new Dictionary<ulong, int>(previous.names);
            var index = new CountedHashes(source, order, hashes);
            if (previous is null)
            {
                var i = 0;
                foreach (var name in source.Keys)
                {
                    order[i++] = name;
                    index.Add(name);
                }
            }
            else
            {
                index.CarryOver(previous.order, source.Keys);
            }
            return index;
        }

        /// <summary>
        /// A merge of the previous names and the current ones, both in hash-code order: a name in both is kept without
        /// hashing, one only in the previous is removed, one only in the current added. Should the order not hold
        /// (equal hash codes in another order), a name is removed and added again: slower, never wrong.
        /// </summary>
        private void CarryOver(DomainName[] previous, IEnumerable<DomainName> current)
        {
            var i = 0;
            var next = 0;
            foreach (var name in current)
            {
                var code = name.GetHashCode();
                while (i < previous.Length && previous[i].GetHashCode() < code)
                    Remove(previous[i++]);
                if (i < previous.Length && (ReferenceEquals(previous[i], name) || (previous[i].GetHashCode() == code && previous[i].Equals(name))))
                    i++;
                else
                    Add(name);
                order[next++] = name;
            }
            while (i < previous.Length)
                Remove(previous[i++]);
        }

        private void Add(DomainName name)
        {
            Hashed++;
            var hash = Hash(name);
            names[hash] = names.GetValueOrDefault(hash) + 1;
        }

        private void Remove(DomainName name)
        {
            Hashed++;
            var hash = Hash(name);
            if (names.TryGetValue(hash, out var count) && count > 1)
                names[hash] = count - 1;
            else
                names.Remove(hash);
        }
    }

    private sealed record Shape(ushort Flags, ushort AdditionalCount, byte[] Additional);
}
