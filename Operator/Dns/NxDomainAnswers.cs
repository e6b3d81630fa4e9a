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

    private readonly Zone zone;
    private readonly NameIndex index;
    private readonly byte[] apex, nameServer, hostmaster; // lower-cased wire forms
    private readonly Dictionary<ulong, byte[]> reverseApexes; // hash → lower-cased wire form of each reverse zone apex; read-only once built
    private readonly byte[] ttl = new byte[4];
    private readonly byte[] timers = new byte[20];        // SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM
    private readonly ConcurrentDictionary<(ulong, ushort), Shape> shapes;

    /// <summary>
    /// The index of <paramref name="zone"/>. With <paramref name="previous"/>, an earlier version's index, only the
    /// names the zone's <see cref="Zone.Change"/> lists since then are looked at, and only those that appeared or went
    /// are hashed: hashing all of them takes about 80 ms of a core at 10,000 Services, and even walking them to find
    /// the changed ones cost milliseconds per version under endpoint churn. The learned shapes carry over too.
    /// </summary>
    public NxDomainAnswers(Zone zone, NxDomainAnswers? previous = null)
    {
        this.zone = zone;
        var changed = previous is null ? null : zone.Change.Since(previous.zone.Change, out _);
        index = changed is not null && previous!.index.CarriesOverTo(zone) ? previous.index.After(previous.zone, zone, changed) : new NameIndex(zone);
        shapes = changed is not null ? previous!.shapes : new();
        // The same settings and podCIDRs as the previous version (every endpoint change): their names are shared.
        (apex, nameServer, hostmaster) = previous is not null && ReferenceEquals(previous.zone.Settings, zone.Settings)
            ? (previous.apex, previous.nameServer, previous.hostmaster)
            : (WireName(zone.Apex), WireName(zone.NameServer), WireName(zone.Hostmaster));
        if (previous is not null && ReferenceEquals(previous.zone.Reverse.Apexes, zone.Reverse.Apexes))
            reverseApexes = previous.reverseApexes;
        else
        {
            reverseApexes = [];
            foreach (var reverseApex in zone.Reverse.Apexes.Keys)
                reverseApexes[Hash(reverseApex)] = WireName(reverseApex);
        }
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
    public bool IsNotFound(ReadOnlySpan<byte> name, out int apexOffset) => IsNotFound(name, Hash(name), out apexOffset);

    /// <summary>As <see cref="IsNotFound(ReadOnlySpan{byte}, out int)"/> with the name's <see cref="Hash(ReadOnlySpan{byte})"/> at hand.</summary>
    public bool IsNotFound(ReadOnlySpan<byte> name, ulong hash, out int apexOffset)
    {
        apexOffset = ApexOffset(name);
        if (apexOffset <= 0 || index.Contains(hash))
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
    internal static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = FnvOffset;
        foreach (var b in bytes)
            hash = (hash ^ b) * FnvPrime;
        return hash;
    }

    /// <summary>The same hash as of <see cref="WireName"/>'s bytes, without making them (80,000 names at 10k Services).</summary>
    internal static ulong Hash(DomainName name)
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
    /// Which names of a zone exist, as hashes counted per hash (two names may share one): the zone's own names, aliases,
    /// empty non-terminals, and with a reverse zone the PTR owners and the names above them. Persistent, so the next
    /// version's index is this one with the names that appeared or went, and shares the rest. Wildcards are few and
    /// hashed again per version.
    /// </summary>
    private sealed class NameIndex
    {
        private readonly HashTrie<int> names;
        private readonly bool reverse;

        /// <summary>Every name of <paramref name="zone"/> hashed.</summary>
        public NameIndex(Zone zone)
        {
            // Without a reverse zone no PTR owner is ever asked for here (ApexOffset finds no apex): nothing to hash.
            reverse = !zone.Reverse.Apexes.IsEmpty;
            var counts = new Dictionary<ulong, int>(zone.Names.Count);
            var sources = Sources(zone, reverse).ToArray();
            for (var i = 0; i < sources.Length; i++)
            {
                foreach (var name in sources[i])
                {
                    // A name in two dictionaries (an alias's parent that is also a namespace) is one name.
                    if (InAny(sources.AsSpan(0, i), name))
                        continue;
                    var hash = Hash(name);
                    counts[hash] = counts.GetValueOrDefault(hash) + 1;
                    Hashed++;
                }
            }
            names = HashTrie<int>.Of([.. counts]);
            (OneLabelWildcards, MultiLabelWildcards) = (Hashes(zone.OneLabelWildcards.Keys), Hashes(zone.MultiLabelWildcards.Keys));
        }

        private NameIndex(HashTrie<int> names, bool reverse, int hashed, HashSet<ulong> oneLabelWildcards, HashSet<ulong> multiLabelWildcards)
        {
            this.names = names;
            this.reverse = reverse;
            Hashed = hashed;
            (OneLabelWildcards, MultiLabelWildcards) = (oneLabelWildcards, multiLabelWildcards);
        }

        /// <summary>Hashes of the wildcards' names (after <c>*.</c>); read-only once built.</summary>
        public HashSet<ulong> OneLabelWildcards { get; }
        public HashSet<ulong> MultiLabelWildcards { get; }

        /// <summary>Names hashed to build this index (all of them without a previous index; tests and benchmarks).</summary>
        public int Hashed { get; }

        public bool Contains(ulong hash) => names.TryGetValue(hash, out _);

        /// <summary>Whether <see cref="After"/> can make the index of <paramref name="zone"/>: both hold the PTR owners, or neither.</summary>
        public bool CarriesOverTo(Zone zone) => reverse == !zone.Reverse.Apexes.IsEmpty;

        /// <summary>The index of <paramref name="zone"/>, this being <paramref name="earlier"/>'s, which differs in <paramref name="changed"/> at most.</summary>
        public NameIndex After(Zone earlier, Zone zone, IReadOnlyCollection<DomainName> changed)
        {
            var next = names;
            var hashed = 0;
            foreach (var name in changed)
            {
                var (was, @is) = (Exists(earlier, name), Exists(zone, name));
                if (was == @is)
                    continue;
                var hash = Hash(name);
                hashed++;
                var count = (next.TryGetValue(hash, out var c) ? c : 0) + (@is ? 1 : -1);
                next = count > 0 ? next.SetItem(hash, count) : next.Remove(hash);
            }
            // Wildcards are few; the same dictionaries as before (every endpoint change) share their hashes.
            return new NameIndex(next, reverse, hashed,
                ReferenceEquals(earlier.OneLabelWildcards, zone.OneLabelWildcards) ? OneLabelWildcards : Hashes(zone.OneLabelWildcards.Keys),
                ReferenceEquals(earlier.MultiLabelWildcards, zone.MultiLabelWildcards) ? MultiLabelWildcards : Hashes(zone.MultiLabelWildcards.Keys));
        }

        private bool Exists(Zone zone, DomainName name) => InAny(Sources(zone, reverse).ToArray(), name);

        private static bool InAny(ReadOnlySpan<IKeys> sources, DomainName name)
        {
            foreach (var source in sources)
            {
                if (source.Contains(name))
                    return true;
            }
            return false;
        }

        /// <summary>The dictionaries whose keys are names that exist.</summary>
        private static IEnumerable<IKeys> Sources(Zone zone, bool reverse)
        {
            yield return new Keys<ZoneNode>(zone.Names);
            yield return new Keys<ZoneNode>(zone.Aliases);
            yield return new Keys<int>(zone.AliasParents);
            if (!reverse)
                yield break;
            yield return new Keys<ImmutableArray<DomainName>>(zone.Reverse.Pointers);
            yield return new Keys<int>(zone.Reverse.Parents);
        }

        private static HashSet<ulong> Hashes(IEnumerable<DomainName> names) => [.. names.Select(Hash)];

        private interface IKeys : IEnumerable<DomainName>
        {
            bool Contains(DomainName name);
        }

        private sealed class Keys<T>(ImmutableDictionary<DomainName, T> source) : IKeys
        {
            public bool Contains(DomainName name) => source.ContainsKey(name);
            public IEnumerator<DomainName> GetEnumerator() => source.Keys.GetEnumerator();
            System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        }
    }

    private sealed record Shape(ushort Flags, ushort AdditionalCount, byte[] Additional);
}
