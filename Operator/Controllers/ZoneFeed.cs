using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Controllers;

/// <summary>How many Services the zone answers for and how many ready addresses they have in total.</summary>
public sealed record ServedCounts(int Services, int Endpoints);

/// <summary>
/// The DNS read model fed from the informer caches: every change goes into a <see cref="ClusterModel"/>, and a new
/// <see cref="Zone"/> is published. A change after a quiet spell (no publish for the coalescing window) is published
/// at once, on the thread that made it; changes that follow within the window are published together at its end,
/// so a burst (a relist, a rollout) costs one zone per window. New zone settings rebuild the model from the caches.
/// Runs on every replica.
/// </summary>
/// <remarks>
/// Publishing in place, rather than handing every change to a publishing task, is what keeps a change cheap: each
/// hand-off between threads wakes a sleeping one (and the timer thread for a delay), which on a small VM costs more
/// than the publish itself (docs/benchmarks.md, "thread wake-ups per change").
/// </remarks>
public sealed class ZoneFeed(ZoneHolder zones, ZoneSettings settings, ILogger<ZoneFeed> log, TimeSpan? coalesce = null, TimeProvider? time = null)
{
    private readonly TimeSpan coalesce = coalesce ?? TimeSpan.FromMilliseconds(20);
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly Lock modelLock = new();
    private readonly List<Func<IEnumerable<object>>> caches = [];
    private ClusterModel model = new(settings);
    private IReadOnlySet<string> unreachable = new HashSet<string>(StringComparer.Ordinal);

    // Guarded by modelLock. Publishing starts with RunAsync; until then changes only reach the model.
    private ITimer? trailing;
    private bool trailingArmed;
    private long lastPublished;

    /// <summary>Raised after a zone with different data was published.</summary>
    public event Action<Zone>? Published;

    public ZoneSettings Settings
    {
        get
        {
            lock (modelLock)
                return model.Settings;
        }
    }

    /// <summary>Feeds the model from an informer; call before the informers run.</summary>
    public void Attach<T>(Informer<T> informer) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        lock (modelLock)
            caches.Add(() => informer.Items);
        informer.Subscribe(change =>
        {
            IReadOnlyList<string> skipped;
            Zone? published;
            lock (modelLock)
            {
                if (change.Type == InformerEventType.Deleted)
                    model.Delete(change.Old!);
                else
                    model.Upsert(change.New!);
                skipped = model.TakeSkipped();
                published = PublishOrDefer();
            }
            foreach (var line in skipped)
                log.LogWarning("{Skipped}", line);
            Announce(published);
        });
    }

    /// <summary>New zone settings: the model is rebuilt from the caches, so names of the old domain stop resolving.</summary>
    public void Reconfigure(ZoneSettings next)
    {
        Zone? published;
        lock (modelLock)
        {
            if (LiveConfig.SameZone(model.Settings, next))
                return;
            var rebuilt = new ClusterModel(next);
            foreach (var cache in caches)
                foreach (var item in cache())
                    rebuilt.Upsert(item);
            rebuilt.TakeSkipped(); // already logged by the model it replaces
            rebuilt.SetUnreachableNodes(unreachable);
            model = rebuilt;
            published = PublishOrDefer();
        }
        log.LogInformation("Zone settings changed (domain {Domain}, ttl {Ttl}, loadBalancerClass {Class}); rebuilt the zone", next.Domain, next.Ttl, next.LoadBalancerClass);
        Announce(published);
    }

    /// <summary>
    /// Endpoints on these nodes leave their Services' answers (fail open: a Service left with no address keeps them
    /// all); a zone is published at once, or at the end of the coalescing window. Survives <see cref="Reconfigure"/>.
    /// </summary>
    public void SetUnreachableNodes(IReadOnlySet<string> nodeNames)
    {
        Zone? published;
        lock (modelLock)
        {
            unreachable = nodeNames.ToHashSet(StringComparer.Ordinal);
            model.SetUnreachableNodes(unreachable);
            published = PublishOrDefer();
        }
        Announce(published);
    }

    /// <summary>The counts of the last published zone; the model keeps them as it publishes, so this costs nothing per Service.</summary>
    public ServedCounts Counts()
    {
        lock (modelLock)
            return new ServedCounts(model.ServedCount, model.ServedEndpoints);
    }

    /// <summary>Publishes the model as it stands, then every change as it comes, until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = time.CreateTimer(_ => PublishTrailing(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Zone? published;
        lock (modelLock)
        {
            trailing = timer;
            trailingArmed = false;
            published = PublishLocked();
        }
        Announce(published);
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            lock (modelLock)
                trailing = null;
        }
    }

    /// <summary>Under modelLock: publishes now after a quiet spell, else makes sure the window's end publishes.</summary>
    private Zone? PublishOrDefer()
    {
        if (trailing is null || trailingArmed)
            return null;
        var quiet = time.GetElapsedTime(lastPublished);
        if (quiet >= coalesce)
            return PublishLocked();
        trailingArmed = true;
        trailing.Change(coalesce - quiet, Timeout.InfiniteTimeSpan);
        return null;
    }

    private void PublishTrailing()
    {
        Zone? published;
        lock (modelLock)
        {
            if (trailing is null || !trailingArmed)
                return;
            trailingArmed = false;
            published = PublishLocked();
        }
        Announce(published);
    }

    /// <summary>Under modelLock, so zones are swapped in the order they were built. Null when nothing changed.</summary>
    private Zone? PublishLocked()
    {
        lastPublished = time.GetTimestamp();
        var zone = model.Publish();
        if (ReferenceEquals(zone, zones.Current))
            return null;
        zones.Swap(zone);
        return zone;
    }

    private void Announce(Zone? zone)
    {
        if (zone is null)
            return;
        log.LogDebug("Published zone serial {Serial}", zone.Serial);
        Published?.Invoke(zone);
    }
}
