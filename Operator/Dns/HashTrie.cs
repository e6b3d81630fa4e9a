using System.Numerics;

namespace MiniLb.Operator.Dns;

/// <summary>
/// An immutable map keyed by 64-bit hashes: a hash array mapped trie, 32 ways per level. Setting or removing a key
/// copies only the nodes on its path (about 4 at 100,000 keys), so the next version of a large map costs what
/// changed and shares the rest with the previous one; a lookup walks the path without allocating. The keys are
/// whole hashes, so two keys always part within the 13 levels 64 bits give: no collision lists.
/// </summary>
internal sealed class HashTrie<T>
{
    private const int Bits = 5, Mask = (1 << Bits) - 1;

    public static HashTrie<T> Empty { get; } = new(Node.None, 0);

    private readonly Node root;

    private HashTrie(Node root, int count)
    {
        this.root = root;
        Count = count;
    }

    public int Count { get; }

    /// <summary>A map of <paramref name="items"/> (distinct keys) built at once: no intermediate versions.</summary>
    public static HashTrie<T> Of(Span<KeyValuePair<ulong, T>> items) =>
        items.IsEmpty ? Empty : new(Build(items, 0), items.Length);

    public bool TryGetValue(ulong key, out T value)
    {
        var node = root;
        for (var shift = 0; ; shift += Bits)
        {
            var bit = Bit(key, shift);
            if ((node.Bitmap & bit) == 0)
                break;
            ref readonly var slot = ref node.Slots[Index(node.Bitmap, bit)];
            if (slot.Child is { } child)
            {
                node = child;
                continue;
            }
            if (slot.Key != key)
                break;
            value = slot.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public HashTrie<T> SetItem(ulong key, T value) => new(Set(root, key, value, 0, out var added), Count + (added ? 1 : 0));

    public HashTrie<T> Remove(ulong key)
    {
        var after = Remove(root, key, 0, out var removed);
        return removed ? new(after ?? Node.None, Count - 1) : this;
    }

    private static uint Bit(ulong key, int shift) => 1u << (int)((key >> shift) & Mask);

    private static int Index(uint bitmap, uint bit) => BitOperations.PopCount(bitmap & (bit - 1));

    private static Node Set(Node node, ulong key, T value, int shift, out bool added)
    {
        var bit = Bit(key, shift);
        var index = Index(node.Bitmap, bit);
        if ((node.Bitmap & bit) == 0)
        {
            added = true;
            return node.Inserted(bit, index, new Slot(key, value));
        }
        var slot = node.Slots[index];
        if (slot.Child is { } child)
            return node.Replaced(index, new Slot(Set(child, key, value, shift + Bits, out added)));
        added = slot.Key != key;
        // Two keys on one slot move one level down, where their next bits tell them apart.
        return node.Replaced(index, added ? new Slot(Pair(slot, new Slot(key, value), shift + Bits)) : new Slot(key, value));
    }

    private static Node Pair(Slot a, Slot b, int shift)
    {
        var (bitA, bitB) = (Bit(a.Key, shift), Bit(b.Key, shift));
        if (bitA == bitB)
            return new Node(bitA, [new Slot(Pair(a, b, shift + Bits))]);
        return new Node(bitA | bitB, bitA < bitB ? [a, b] : [b, a]);
    }

    /// <summary>The node without <paramref name="key"/>; null when nothing is left in it.</summary>
    private static Node? Remove(Node node, ulong key, int shift, out bool removed)
    {
        removed = false;
        var bit = Bit(key, shift);
        if ((node.Bitmap & bit) == 0)
            return node;
        var index = Index(node.Bitmap, bit);
        var slot = node.Slots[index];
        if (slot.Child is { } child)
        {
            var after = Remove(child, key, shift + Bits, out removed);
            if (!removed)
                return node;
            if (after is null)
                return node.Without(bit, index);
            // A child left with one key gives it back to this level, so lookups stay as short as the keys need.
            return node.Replaced(index, after.Slots is [{ Child: null } single] ? single : new Slot(after));
        }
        if (slot.Key != key)
            return node;
        removed = true;
        return node.Without(bit, index);
    }

    private static Node Build(Span<KeyValuePair<ulong, T>> items, int shift)
    {
        // Sorted by the bits of this level, then each run becomes a slot: a key, or a node one level down.
        items.Sort((a, b) => ((a.Key >> shift) & Mask).CompareTo((b.Key >> shift) & Mask));
        var slots = new List<Slot>();
        var bitmap = 0u;
        for (var start = 0; start < items.Length;)
        {
            var chunk = (items[start].Key >> shift) & Mask;
            var end = start + 1;
            while (end < items.Length && ((items[end].Key >> shift) & Mask) == chunk)
                end++;
            bitmap |= 1u << (int)chunk;
            slots.Add(end - start == 1 ? new Slot(items[start].Key, items[start].Value) : new Slot(Build(items[start..end], shift + Bits)));
            start = end;
        }
        return new Node(bitmap, [.. slots]);
    }

    /// <summary>A key and its value, or a node one level down.</summary>
    private readonly struct Slot
    {
        public Slot(ulong key, T value) => (Key, Value) = (key, value);

        public Slot(Node child) => (Key, Value, Child) = (0, default!, child);

        public ulong Key { get; }
        public T Value { get; }
        public Node? Child { get; }
    }

    private sealed class Node(uint bitmap, Slot[] slots)
    {
        public static readonly Node None = new(0, []);

        public uint Bitmap { get; } = bitmap;
        public Slot[] Slots { get; } = slots;

        public Node Inserted(uint bit, int index, Slot slot)
        {
            var slots = new Slot[Slots.Length + 1];
            Slots.AsSpan(0, index).CopyTo(slots);
            slots[index] = slot;
            Slots.AsSpan(index).CopyTo(slots.AsSpan(index + 1));
            return new Node(Bitmap | bit, slots);
        }

        public Node Replaced(int index, Slot slot)
        {
            var slots = (Slot[])Slots.Clone();
            slots[index] = slot;
            return new Node(Bitmap, slots);
        }

        public Node? Without(uint bit, int index)
        {
            if (Slots.Length == 1)
                return null;
            var slots = new Slot[Slots.Length - 1];
            Slots.AsSpan(0, index).CopyTo(slots);
            Slots.AsSpan(index + 1).CopyTo(slots.AsSpan(index));
            return new Node(Bitmap & ~bit, slots);
        }
    }
}
