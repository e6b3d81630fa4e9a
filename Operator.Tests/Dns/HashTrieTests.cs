using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>The persistent map under the fast path's learned answers and NXDOMAIN index.</summary>
public class HashTrieTests
{
    [Test]
    public void Holds_what_a_dictionary_holds_through_random_sets_and_removes_and_old_versions_stay_as_they_were()
    {
        var random = new Random(11);
        var expected = new Dictionary<ulong, int>();
        var trie = HashTrie<int>.Empty;
        // Keys from a small pool share long prefixes of bits, so slots split, nest and collapse again.
        var pool = Enumerable.Range(0, 300).Select(i => i % 3 == 0 ? (ulong)random.NextInt64() : (ulong)i << (i % 60)).ToArray();
        var versions = new List<(HashTrie<int> Trie, Dictionary<ulong, int> Expected)>();
        for (var step = 0; step < 5000; step++)
        {
            var key = pool[random.Next(pool.Length)];
            if (random.Next(3) == 0)
            {
                trie = trie.Remove(key);
                expected.Remove(key);
            }
            else
            {
                trie = trie.SetItem(key, step);
                expected[key] = step;
            }
            if (step % 500 == 0)
                versions.Add((trie, new(expected)));
        }
        versions.Add((trie, expected));

        foreach (var (version, content) in versions)
        {
            Assert.That(version.Count, Is.EqualTo(content.Count));
            foreach (var key in pool)
            {
                Assert.That(version.TryGetValue(key, out var value), Is.EqualTo(content.TryGetValue(key, out var wanted)), $"key {key:x}");
                Assert.That(value, Is.EqualTo(wanted), $"key {key:x}");
            }
        }
    }

    [Test]
    public void A_map_built_at_once_answers_as_one_built_key_by_key()
    {
        var random = new Random(12);
        var items = Enumerable.Range(0, 2000).Select(_ => (ulong)random.NextInt64()).Distinct().Select((k, i) => KeyValuePair.Create(k, i)).ToArray();

        var trie = HashTrie<int>.Of(items.ToArray());

        Assert.That(trie.Count, Is.EqualTo(items.Length));
        Assert.That(items.All(i => trie.TryGetValue(i.Key, out var v) && v == i.Value), Is.True);
        Assert.That(trie.TryGetValue(12345, out _), Is.False);
        var smaller = items.Take(1000).Aggregate(trie, (t, i) => t.Remove(i.Key));
        Assert.That(smaller.Count, Is.EqualTo(items.Length - 1000));
        Assert.That(items.Skip(1000).All(i => smaller.TryGetValue(i.Key, out _)) && !items.Take(1000).Any(i => smaller.TryGetValue(i.Key, out _)), Is.True);
    }
}
