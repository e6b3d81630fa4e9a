using System.Threading.Channels;
using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>One change, as a watch delivers it. <see cref="Previous"/> lets selector watches turn edits into ADDED/DELETED.</summary>
public sealed record StoredEvent(long ResourceVersion, string Type, string TypeKey, JsonObject Object, JsonObject? Previous);

/// <summary>An open watch: the events for one kind, from the moment it subscribed.</summary>
public sealed class Subscription(string typeKey, ObjectStore store) : IDisposable
{
    public string TypeKey { get; } = typeKey;
    public Channel<StoredEvent> Events { get; } = Channel.CreateUnbounded<StoredEvent>(new() { SingleReader = true });
    /// <summary>Cancelled when a fault closes every open watch.</summary>
    public CancellationTokenSource Closed { get; } = new();

    public void Dispose()
    {
        store.Unsubscribe(this);
        Closed.Dispose();
    }
}

/// <summary>
/// All objects, kept as JSON, under one lock and one monotonic resourceVersion; a bounded history of changes
/// for watches that resume from a resourceVersion. Callers hold <see cref="Gate"/> across read-modify-write.
/// </summary>
public sealed class ObjectStore(int historyLimit)
{
    private readonly Dictionary<string, SortedDictionary<string, JsonObject>> _objects = [];
    private readonly LinkedList<StoredEvent> _history = new();
    private readonly List<Subscription> _subscriptions = [];
    private long _resourceVersion = 1;
    /// <summary>Watches from a resourceVersion older than this get 410 Expired: the events after it are gone.</summary>
    private long _oldestResumable = 1;

    public Lock Gate { get; } = new();

    public long ResourceVersion
    {
        get { lock (Gate) return _resourceVersion; }
    }

    public static string KeyOf(string? ns, string name) => $"{ns}/{name}";

    public JsonObject? Get(string typeKey, string? ns, string name)
    {
        lock (Gate) return _objects.TryGetValue(typeKey, out var objects) && objects.TryGetValue(KeyOf(ns, name), out var obj) ? obj : null;
    }

    /// <summary>Objects of a kind in key order (namespace, then name), optionally in one namespace.</summary>
    public IReadOnlyList<(string Key, JsonObject Object)> List(string typeKey, string? ns)
    {
        lock (Gate)
        {
            if (!_objects.TryGetValue(typeKey, out var objects)) return [];
            return objects.Where(o => ns is null || o.Key.StartsWith(ns + "/", StringComparison.Ordinal))
                .Select(o => (o.Key, o.Value)).ToList();
        }
    }

    public IReadOnlyList<string> TypeKeysWithObjectsIn(string ns)
    {
        lock (Gate) return _objects.Where(t => t.Value.Keys.Any(k => k.StartsWith(ns + "/", StringComparison.Ordinal))).Select(t => t.Key).ToList();
    }

    /// <summary>Stores an object under a new resourceVersion (written into it) and tells the watches.</summary>
    public JsonObject Put(string typeKey, JsonObject obj, JsonObject? previous)
    {
        // Stored objects are re-parsed, so values built in code (JsonValue<int>) read like parsed ones, and
        // materialised at once: parsed JsonObjects fill in lazily, which is not safe for concurrent readers.
        obj = JsonNode.Parse(obj.ToJsonString())!.AsObject();
        Materialise(obj);
        lock (Gate)
        {
            var rv = ++_resourceVersion;
            Metadata(obj)["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var meta = Metadata(obj);
            var key = KeyOf(meta["namespace"]?.GetValue<string>(), meta["name"]!.GetValue<string>());
            if (!_objects.TryGetValue(typeKey, out var objects)) _objects[typeKey] = objects = new(StringComparer.Ordinal);
            objects[key] = obj;
            Record(new StoredEvent(rv, previous is null ? "ADDED" : "MODIFIED", typeKey, obj, previous));
            return obj;
        }
    }

    /// <summary>Removes an object; the DELETED event carries it with a new resourceVersion, as kube-apiserver's does.</summary>
    public JsonObject Remove(string typeKey, JsonObject obj)
    {
        lock (Gate)
        {
            var meta = Metadata(obj);
            var key = KeyOf(meta["namespace"]?.GetValue<string>(), meta["name"]!.GetValue<string>());
            _objects[typeKey].Remove(key);
            var rv = ++_resourceVersion;
            var gone = (JsonObject)obj.DeepClone();
            Metadata(gone)["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Record(new StoredEvent(rv, "DELETED", typeKey, gone, obj));
            return gone;
        }
    }

    private void Record(StoredEvent change)
    {
        _history.AddLast(change);
        while (_history.Count > historyLimit)
        {
            _oldestResumable = _history.First!.Value.ResourceVersion;
            _history.RemoveFirst();
        }
        foreach (var subscription in _subscriptions)
            if (subscription.TypeKey == change.TypeKey) subscription.Events.Writer.TryWrite(change);
    }

    /// <summary>
    /// Opens a watch. From a resourceVersion, the events after it are replayed first; from none, the caller
    /// sends the current objects (returned with the subscription, read under the same lock so nothing is missed).
    /// </summary>
    public (Subscription Subscription, IReadOnlyList<StoredEvent> Replay, long ResourceVersion) Subscribe(string typeKey, long? from)
    {
        lock (Gate)
        {
            if (from is { } rv && rv < _oldestResumable)
                throw ApiError.Expired($"too old resource version: {rv} ({_oldestResumable})");
            var subscription = new Subscription(typeKey, this);
            IReadOnlyList<StoredEvent> replay = from is { } start
                ? _history.Where(e => e.TypeKey == typeKey && e.ResourceVersion > start).ToList()
                : List(typeKey, null).Select(o => new StoredEvent(_resourceVersion, "ADDED", typeKey, o.Object, null)).ToList();
            _subscriptions.Add(subscription);
            return (subscription, replay, _resourceVersion);
        }
    }

    public void Unsubscribe(Subscription subscription)
    {
        lock (Gate) _subscriptions.Remove(subscription);
    }

    /// <summary>Forgets the change history: a watch resuming from any older resourceVersion now gets 410 Expired.</summary>
    public void Compact()
    {
        lock (Gate)
        {
            _history.Clear();
            _oldestResumable = _resourceVersion;
        }
    }

    public void CloseWatches()
    {
        List<Subscription> open;
        lock (Gate) open = [.. _subscriptions];
        foreach (var subscription in open)
        {
            try { subscription.Closed.Cancel(); }
            catch (ObjectDisposedException) { }
        }
    }

    public int OpenWatches
    {
        get { lock (Gate) return _subscriptions.Count; }
    }

    /// <summary>Open watches of one type (its key, e.g. <c>/services</c> for core Services).</summary>
    public int OpenWatchesOf(string typeKey)
    {
        lock (Gate) return _subscriptions.Count(s => s.TypeKey == typeKey);
    }

    public void RemoveKind(string typeKey)
    {
        lock (Gate)
        {
            if (!_objects.TryGetValue(typeKey, out var objects)) return;
            foreach (var obj in objects.Values.ToList()) Remove(typeKey, obj);
            _objects.Remove(typeKey);
        }
    }

    private static void Materialise(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj) Materialise(child);
                break;
            case JsonArray array:
                foreach (var child in array) Materialise(child);
                break;
        }
    }

    public static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject meta) return meta;
        meta = new JsonObject();
        obj["metadata"] = meta;
        return meta;
    }
}
