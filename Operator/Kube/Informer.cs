using System.Collections.Concurrent;
using System.Net;
using System.Runtime.ExceptionServices;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

public enum InformerEventType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>A change to the cache. Added: <see cref="New"/>. Modified: both. Deleted: <see cref="Old"/>, the last state seen.</summary>
public sealed record InformerEvent<T>(InformerEventType Type, T? Old, T? New) where T : class;

public sealed record InformerOptions
{
    /// <summary>Items per LIST page.</summary>
    public int PageSize { get; init; } = 500;

    /// <summary>The watch's timeoutSeconds is this stretched by up to 100% at random, so replicas do not reconnect in step.</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A watch silent for its timeout plus this long is taken for a dead connection and reopened.</summary>
    public TimeSpan WatchdogGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Delay between reconnects after failures.</summary>
    public Backoff Reconnect { get; init; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), Jitter: 0.5);

    /// <summary>
    /// The longest wait before looking again for a kind the API server does not serve (a CRD not installed yet). The
    /// first looks follow <see cref="Reconnect"/>'s backoff, so a CRD installed just after minilb starts is found in seconds;
    /// an <see cref="ResourceKind.Optional"/> kind is looked for at this interval only.
    /// </summary>
    public TimeSpan DiscoveryInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Asked before an absent <see cref="ResourceKind.Optional"/> kind is LISTed again: whether its group is served at
    /// all, one request per group version and interval (<see cref="GroupDiscovery"/>). None: the LIST itself is the look.
    /// </summary>
    public GroupDiscovery? Groups { get; init; }

    /// <summary>Source of jitter in [0, 1).</summary>
    public Func<double> Random { get; init; } = System.Random.Shared.NextDouble;

    /// <summary>Where watch restarts and relists are counted (and, through <see cref="OperatorHost"/>, reconciles); none when null.</summary>
    public IRuntimeMetrics? Metrics { get; init; }

    /// <summary>Where 401/403 answers are reported (once, naming the missing permission) instead of a warning per retry.</summary>
    public AccessProblems? Access { get; init; }
}

/// <summary>How informers key objects: <c>namespace/name</c>, or <c>name</c> for cluster-scoped kinds.</summary>
public static class ObjectKey
{
    public static string Of(IKubernetesObject<V1ObjectMeta> item)
    {
        if (item is ObjectView view)
            return view.Key;
        return string.IsNullOrEmpty(item.Metadata?.NamespaceProperty)
            ? item.Metadata?.Name ?? ""
            : $"{item.Metadata.NamespaceProperty}/{item.Metadata.Name}";
    }
}

/// <summary>The kind-independent face of an informer, for hosts that run and await many.</summary>
public interface IInformer
{
    ResourceKind Kind { get; }
    bool HasSynced { get; }
    /// <summary>True while the API server does not serve the kind (404 on LIST).</summary>
    bool IsAbsent { get; }
    Task RunAsync(CancellationToken ct);
    Task WaitForSyncAsync(CancellationToken ct);
}

/// <summary>
/// Keeps a local copy of every object of one kind: paged LIST, then WATCH from the list's resourceVersion, tracking
/// the version on every event and bookmark. A 410 Expired (delivered by KubernetesClient only to onError) leads to
/// a fresh LIST that also reports objects that vanished meanwhile as deleted. Failed connections are retried with
/// capped exponential backoff and jitter, honouring Retry-After on 429; a watchdog reopens silent connections.
/// A kind the server does not serve is reported once and looked for again periodically.
/// </summary>
public sealed class Informer<T> : IInformer where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly ListWatch<T> source;
    private readonly InformerOptions options;
    private readonly TimeProvider time;
    private readonly ILogger log;
    private readonly ConcurrentDictionary<string, T> cache = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock subscribersLock = new();
    private ImmutableSubscribers subscribers = ImmutableSubscribers.Empty;

    public Informer(ListWatch<T> source, ILogger<Informer<T>> log, TimeProvider? time = null, InformerOptions? options = null)
    {
        this.source = source;
        this.log = log;
        this.time = time ?? TimeProvider.System;
        this.options = options ?? new InformerOptions();
    }

    public ResourceKind Kind => source.Kind;
    public bool HasSynced => synced.Task.IsCompleted;
    public bool IsAbsent { get; private set; }

    /// <summary>The resourceVersion the next WATCH starts from; null when a LIST is due.</summary>
    public string? ResourceVersion { get; private set; }

    /// <summary>The cached object under a key (<c>namespace/name</c>, or <c>name</c> for cluster-scoped kinds).</summary>
    public T? Get(string key) => cache.GetValueOrDefault(key);

    /// <summary>A snapshot of the cached objects. ConcurrentDictionary already copies them into a new read-only list; it is not copied again.</summary>
    public IReadOnlyCollection<T> Items => Snapshot(cache.Values);

    public IReadOnlyCollection<string> Keys => Snapshot(cache.Keys);

    private static IReadOnlyCollection<TItem> Snapshot<TItem>(ICollection<TItem> copy) => copy as IReadOnlyCollection<TItem> ?? copy.ToList();

    public static string KeyOf(T item) => ObjectKey.Of(item);

    public Task WaitForSyncAsync(CancellationToken ct) => synced.Task.WaitAsync(ct);

    /// <summary>Handlers run on the informer's loop, one event at a time, in order; keep them quick.</summary>
    public IDisposable Subscribe(Action<InformerEvent<T>> handler)
    {
        lock (subscribersLock)
            subscribers = subscribers.With(handler);
        return new Subscription(() =>
        {
            lock (subscribersLock)
                subscribers = subscribers.Without(handler);
        });
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        var absentLooks = 0;
        while (!ct.IsCancellationRequested)
        {
            TimeSpan delay;
            var listing = ResourceVersion is null;
            if (listing && IsAbsent && Kind.Optional && options.Groups is { } groups)
            {
                try
                {
                    // Still not served: wait another interval without a LIST (and its 404, thrown).
                    if (!await groups.ServesAsync(Kind, ct))
                    {
                        await Task.Delay(options.DiscoveryInterval, time, ct);
                        continue;
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
            }
            try
            {
                if (listing)
                    await RelistAsync(ct);
                listing = false;
                absentLooks = 0;
                var healthy = await WatchAsync(ResourceVersion!, ct);
                options.Metrics?.WatchRestarted(Kind);
                failures = healthy ? 0 : failures + 1;
                delay = healthy ? TimeSpan.Zero : options.Reconnect.Delay(failures, options.Random());
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (IsExpired(e) || (!listing && StatusOf(e) == HttpStatusCode.NotFound))
            {
                // Relist at once; only a relist that keeps ending this way (a confused server) is slowed down.
                log.LogInformation("{Kind}: watch from resourceVersion {ResourceVersion} answered {Status}; listing again",
                    Kind, ResourceVersion, IsExpired(e) ? "410 Expired" : "404 Not Found");
                ResourceVersion = null;
                options.Metrics?.Relisted(Kind);
                failures++;
                delay = failures > 1 ? options.Reconnect.Delay(failures - 1, options.Random()) : TimeSpan.Zero;
            }
            catch (Exception e) when (StatusOf(e) == HttpStatusCode.NotFound)
            {
                failures = 0;
                MarkAbsent();
                var backoff = Kind.Optional ? options.DiscoveryInterval : options.Reconnect.Delay(++absentLooks, options.Random());
                delay = backoff < options.DiscoveryInterval ? backoff : options.DiscoveryInterval;
            }
            catch (Exception e)
            {
                if (!listing)
                    options.Metrics?.WatchRestarted(Kind);
                failures++;
                var retryAfter = RetryAfter(e);
                delay = retryAfter ?? options.Reconnect.Delay(failures, options.Random());
                if (options.Access?.Observe(e) != true)
                    log.LogWarning("{Kind}: {Call} failed ({Error}); retrying in {Delay}{Hint}", Kind, listing ? "LIST" : "WATCH",
                    e.Message, delay, retryAfter is null ? "" : " as the server asked (Retry-After)");
            }
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, time, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task RelistAsync(CancellationToken ct)
    {
        var listed = new Dictionary<string, T>(StringComparer.Ordinal);
        string? next = null, version;
        do
        {
            ListPage<T> page;
            try
            {
                page = await source.List(next, options.PageSize, ct);
            }
            catch (Exception e) when (next is not null && IsExpired(e))
            {
                // The continue token outlived the server's compaction window: start the snapshot over.
                listed.Clear();
                next = null;
                continue;
            }
            foreach (var item in page.Items)
                listed[KeyOf(item)] = Slim(item);
            version = page.ResourceVersion;
            next = string.IsNullOrEmpty(page.Continue) ? null : page.Continue;
            if (next is null)
            {
                if (IsAbsent)
                    log.LogInformation("{Kind}: now served by the API server; watching it", Kind);
                IsAbsent = false;
                Replace(listed, version);
                log.LogDebug("{Kind}: listed {Count} at resourceVersion {ResourceVersion}", Kind, listed.Count, ResourceVersion);
                return;
            }
        }
        while (true);
    }

    /// <summary>Makes the cache equal to a LIST result and reports the differences as events.</summary>
    private void Replace(Dictionary<string, T> listed, string? version)
    {
        foreach (var (key, item) in listed)
        {
            cache.TryGetValue(key, out var old);
            cache[key] = item;
            if (old is null)
                Publish(new InformerEvent<T>(InformerEventType.Added, null, item));
            else if (old.Metadata?.ResourceVersion != item.Metadata?.ResourceVersion)
                Publish(new InformerEvent<T>(InformerEventType.Modified, old, item));
        }
        foreach (var key in cache.Keys.Where(key => !listed.ContainsKey(key)).ToList())
        {
            if (cache.TryRemove(key, out var gone))
                Publish(new InformerEvent<T>(InformerEventType.Deleted, gone, null));
        }
        ResourceVersion = version ?? "";
        synced.TrySetResult();
    }

    private void MarkAbsent()
    {
        if (!IsAbsent)
            log.LogInformation("{Kind}: not served by the API server (is its CRD installed?); looking again {When} {Interval}",
                Kind, Kind.Optional ? "every" : "with backoff, at least every", options.DiscoveryInterval);
        IsAbsent = true;
        Replace([], null);
        ResourceVersion = null;
    }

    /// <returns>False when the watch ended at once without an event, which counts as a failure for backoff.</returns>
    private async Task<bool> WatchAsync(string version, CancellationToken ct)
    {
        var timeout = options.WatchTimeout * (1 + options.Random());
        var idleLimit = timeout + options.WatchdogGrace;
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watchdogFired = false;
        using var watchdog = time.CreateTimer(_ =>
        {
            watchdogFired = true;
            try
            {
                watch.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The watch ended while the watchdog fired.
            }
        }, null, idleLimit, Timeout.InfiniteTimeSpan);
        var started = time.GetTimestamp();
        var events = 0;
        try
        {
            await foreach (var (type, item) in source.Watch(version, (int)timeout.TotalSeconds, Rethrow, watch.Token))
            {
                watchdog.Change(idleLimit, Timeout.InfiniteTimeSpan);
                events++;
                Apply(type, item);
            }
        }
        catch (OperationCanceledException) when (watchdogFired && !ct.IsCancellationRequested)
        {
            log.LogWarning("{Kind}: watch silent for {Idle}; reconnecting", Kind, idleLimit);
            return true;
        }
        return events > 0 || time.GetElapsedTime(started) >= TimeSpan.FromSeconds(1);
    }

    /// <summary>
    /// What the cache keeps of an object: all of it but metadata.managedFields and kubectl's last-applied
    /// annotation (a copy of the whole object as applied), which nothing in minilb reads and which, on a real
    /// cluster, are often the largest part of an object (controller-runtime's caches drop managedFields too).
    /// </summary>
    private static T Slim(T item)
    {
        if (item.Metadata is { } metadata)
        {
            metadata.ManagedFields = null;
            metadata.Annotations?.Remove(LastAppliedAnnotation);
        }
        return item;
    }

    private const string LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    // KubernetesClient reports watch ERROR events (410 Expired among them) only through onError.
    private static void Rethrow(Exception e) => ExceptionDispatchInfo.Throw(e);

    private void Apply(WatchEventType type, T item)
    {
        var version = item.Metadata?.ResourceVersion;
        var key = KeyOf(item);
        switch (type)
        {
            case WatchEventType.Added or WatchEventType.Modified:
                cache.TryGetValue(key, out var old);
                cache[key] = Slim(item);
                Publish(old is null
                    ? new InformerEvent<T>(InformerEventType.Added, null, item)
                    : new InformerEvent<T>(InformerEventType.Modified, old, item));
                break;
            case WatchEventType.Deleted:
                cache.TryRemove(key, out var gone);
                Publish(new InformerEvent<T>(InformerEventType.Deleted, gone ?? item, null));
                break;
        }
        if (!string.IsNullOrEmpty(version))
            ResourceVersion = version;
    }

    private void Publish(InformerEvent<T> change)
    {
        foreach (var handler in subscribers.Handlers)
        {
            try
            {
                handler(change);
            }
            catch (Exception e)
            {
                log.LogError(e, "{Kind}: a subscriber failed on {Change} of {Key}", Kind, change.Type, KeyOf((change.New ?? change.Old)!));
            }
        }
    }

    private static bool IsExpired(Exception e) =>
        e is KubernetesException { Status.Code: 410 } || StatusOf(e) == HttpStatusCode.Gone;

    private static HttpStatusCode? StatusOf(Exception e) => e switch
    {
        HttpOperationException { Response: { } response } => response.StatusCode,
        KubernetesException { Status.Code: { } code } => (HttpStatusCode)code,
        _ => null,
    };

    /// <summary>A 429 waits as long as the server asks, or one backoff step when it does not say.</summary>
    private TimeSpan? RetryAfter(Exception e) =>
        StatusOf(e) != HttpStatusCode.TooManyRequests ? null : Backoff.RetryAfter(e) ?? options.Reconnect.Delay(1, options.Random());

    private sealed record ImmutableSubscribers(IReadOnlyList<Action<InformerEvent<T>>> Handlers)
    {
        public static readonly ImmutableSubscribers Empty = new([]);
        public ImmutableSubscribers With(Action<InformerEvent<T>> handler) => new([.. Handlers, handler]);
        public ImmutableSubscribers Without(Action<InformerEvent<T>> handler) => new(Handlers.Where(h => h != handler).ToList());
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private Action? dispose = dispose;
        public void Dispose() => Interlocked.Exchange(ref dispose, null)?.Invoke();
    }
}
