using System.Threading.Channels;
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
/// <see cref="Zone"/> is published shortly after (changes arriving together are published together). New zone
/// settings rebuild the model from the caches. Runs on every replica.
/// </summary>
public sealed class ZoneFeed(ZoneHolder zones, ZoneSettings settings, ILogger<ZoneFeed> log, TimeSpan? coalesce = null, TimeProvider? time = null)
{
    private readonly TimeSpan coalesce = coalesce ?? TimeSpan.FromMilliseconds(20);
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly Lock modelLock = new();
    private readonly List<Func<IEnumerable<object>>> caches = [];
    private readonly Channel<bool> pending = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private ClusterModel model = new(settings);
    private IReadOnlySet<string> unreachableNodes = new HashSet<string>(StringComparer.Ordinal);

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
            lock (modelLock)
            {
                if (change.Type == InformerEventType.Deleted)
                    model.Delete(change.Old!);
                else
                    model.Upsert(change.New!);
                skipped = model.TakeSkipped();
            }
            foreach (var line in skipped)
                log.LogWarning("{Skipped}", line);
            pending.Writer.TryWrite(true);
        });
    }

    /// <summary>New zone settings: the model is rebuilt from the caches, so names of the old domain stop resolving.</summary>
    public void Reconfigure(ZoneSettings next)
    {
        lock (modelLock)
        {
            if (LiveConfig.SameZone(model.Settings, next))
                return;
            var rebuilt = new ClusterModel(next);
            foreach (var cache in caches)
                foreach (var item in cache())
                    rebuilt.Upsert(item);
            rebuilt.SetUnreachableNodes(unreachableNodes);
            rebuilt.TakeSkipped(); // already logged by the model it replaces
            model = rebuilt;
        }
        log.LogInformation("Zone settings changed (domain {Domain}, ttl {Ttl}, loadBalancerClass {Class}); rebuilt the zone", next.Domain, next.Ttl, next.LoadBalancerClass);
        pending.Writer.TryWrite(true);
    }

    /// <summary>Endpoints on these nodes leave DNS answers (fail open: never a Service's last address); publishes soon after.</summary>
    public void SetUnreachableNodes(IReadOnlySet<string> nodeNames)
    {
        lock (modelLock)
        {
            unreachableNodes = nodeNames;
            model.SetUnreachableNodes(nodeNames);
        }
        pending.Writer.TryWrite(true);
    }

    public ServedCounts Counts()
    {
        lock (modelLock)
        {
            var zone = model.Current;
            var served = model.Services.Where(s => ServedService.IsServed(s, model.Settings)).ToList();
            var endpoints = served.Sum(s => zone.Names.TryGetValue(Hostnames.ToName(ServedService.HostnameOf(s, model.Settings)), out var node)
                ? node.V4.Length + node.V6.Length
                : 0);
            return new ServedCounts(served.Count, endpoints);
        }
    }

    /// <summary>Publishes zones until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        pending.Writer.TryWrite(true);
        try
        {
            while (await pending.Reader.WaitToReadAsync(ct))
            {
                // Let a burst (a relist, a rollout) land before building the zone once.
                await Task.Delay(coalesce, time, ct);
                pending.Reader.TryRead(out _);
                Zone zone;
                lock (modelLock)
                    zone = model.Publish();
                if (ReferenceEquals(zone, zones.Current))
                    continue;
                zones.Swap(zone);
                log.LogDebug("Published zone serial {Serial}", zone.Serial);
                Published?.Invoke(zone);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }
}
