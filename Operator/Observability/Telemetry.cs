using System.Collections.Concurrent;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Kube;
using Prometheus;

namespace MiniLb.Operator.Observability;

/// <summary>
/// Every metric minilb exports, on its own registry (not prometheus-net's static default, so tests and
/// several hosts in one process never share counters). Callers report domain facts through the methods;
/// metric names and labels stay in this file.
/// </summary>
public sealed class Telemetry : IRuntimeMetrics
{
    /// <summary>Query types with their own label value; anything else counts as "other" so a scanner
    /// sending all 65536 qtypes cannot blow up the series count.</summary>
    private static readonly HashSet<RecordType> NamedTypes =
    [
        RecordType.A, RecordType.Aaaa, RecordType.CName, RecordType.Ns, RecordType.Soa, RecordType.Srv,
        RecordType.Ptr, RecordType.Txt, RecordType.Mx, RecordType.CAA, RecordType.Https, RecordType.SvcB,
        RecordType.Any, RecordType.Axfr, RecordType.Ixfr,
    ];

    private readonly Counter _queries;
    private readonly Counter _forwarded;
    private readonly Histogram _responseDuration;
    private readonly Gauge _servedServices;
    private readonly Gauge _servedEndpoints;
    private readonly Gauge _servedAliases;
    private readonly Counter _watchRestarts;
    private readonly Counter _watchRelists;
    private readonly Counter _reconciles;
    private readonly Histogram _reconcileDuration;
    private readonly Gauge _leader;
    private readonly Gauge _unreachableNodes;
    private readonly Counter _reachabilityChanges;

    // The DNS path runs for every query: resolve each label combination once, then only increment.
    private readonly ConcurrentDictionary<(RecordType, ReturnCode, TransportProtocol), Counter.Child> _queryChildren = new();
    private readonly ConcurrentDictionary<TransportProtocol, Histogram.Child> _durationChildren = new();

    public Telemetry(string version = "unknown")
    {
        Registry = Metrics.NewCustomRegistry();
        // process_cpu_seconds_total, process_resident_memory_bytes, dotnet_gc_*: what a footprint dashboard needs.
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);

        _queries = factory.CreateCounter("minilb_dns_queries_total",
            "DNS queries answered, by query type, response code and transport.", "type", "rcode", "transport");
        _forwarded = factory.CreateCounter("minilb_dns_forwarded_total",
            "Queries for names outside the zone, by what became of them: answered (an upstream's answer relayed), failed (no upstream answered: SERVFAIL), overloaded (too many in flight: SERVFAIL), not_allowed (client outside forwarding.allowFrom: REFUSED).", "result");
        _responseDuration = factory.CreateHistogram("minilb_dns_response_duration_seconds",
            "Time from a parsed query to its response being ready, by transport.",
            new HistogramConfiguration
            {
                LabelNames = ["transport"],
                // 25 µs … ≈100 ms: answers come from memory, so the interesting range is small.
                Buckets = Histogram.ExponentialBuckets(0.000025, 2, 13),
            });
        _servedServices = factory.CreateGauge("minilb_served_services",
            "LoadBalancer Services of minilb's class currently answered.");
        _servedEndpoints = factory.CreateGauge("minilb_served_endpoints",
            "Ready endpoint addresses currently answered, summed over all served Services.");
        _servedAliases = factory.CreateGauge("minilb_served_alias_names",
            "Extra names (Ingress, Gateway API routes, annotations) currently answered.");
        _watchRestarts = factory.CreateCounter("minilb_watch_restarts_total",
            "Watches of the Kubernetes API that ended and were started again, by resource.", "resource");
        _watchRelists = factory.CreateCounter("minilb_watch_relists_total",
            "Full LISTs of a resource after the watch's resourceVersion expired (410 Gone).", "resource");
        _reconciles = factory.CreateCounter("minilb_reconciles_total",
            "Reconciles run, by controller and result (success or error).", "controller", "result");
        _reconcileDuration = factory.CreateHistogram("minilb_reconcile_duration_seconds",
            "Reconcile duration, by controller.",
            new HistogramConfiguration
            {
                LabelNames = ["controller"],
                Buckets = Histogram.ExponentialBuckets(0.001, 2, 14), // 1 ms … ≈8 s
            });
        _leader = factory.CreateGauge("minilb_leader",
            "1 while this replica holds the leader lease (writes statuses), else 0.");
        _unreachableNodes = factory.CreateGauge("minilb_unreachable_nodes",
            "Nodes whose endpoints are left out of DNS answers because node liveness (this replica's or the leader's) found them unreachable.");
        _reachabilityChanges = factory.CreateCounter("minilb_node_reachability_changes_total",
            "Nodes this replica found unreachable (to=\"unreachable\") or reachable again (to=\"reachable\").", "to");
        factory.CreateGauge("minilb_build_info", "Always 1; the version label says which build runs.", "version")
            .WithLabels(version).Set(1);

        // Where the resident memory goes: the live heap after the last collection, and what the GC holds from the OS.
        var heapSize = factory.CreateGauge("dotnet_gc_last_collection_heap_size_bytes",
            "Managed heap size after the last garbage collection (live objects and fragmentation).");
        var committed = factory.CreateGauge("dotnet_gc_committed_memory_bytes",
            "Memory the garbage collector has committed from the operating system.");
        var allocated = factory.CreateCounter("dotnet_gc_allocated_bytes_total",
            "Bytes allocated on the managed heap since the start (what makes the GC collect and grow).");
        var paused = factory.CreateCounter("dotnet_gc_pause_seconds_total",
            "Time every thread stood still for garbage collections since the start (DNS answers wait too).");
        Registry.AddBeforeCollectCallback(() =>
        {
            paused.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            var info = GC.GetGCMemoryInfo();
            heapSize.Set(info.HeapSizeBytes);
            committed.Set(info.TotalCommittedBytes);
            allocated.IncTo(GC.GetTotalAllocatedBytes(precise: false));
        });
    }

    /// <summary>The registry <see cref="MonitoringEndpoint"/> exports.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Counts one answered query and its latency. Cheap enough for every query.</summary>
    public void DnsQueryAnswered(RecordType type, ReturnCode rcode, TransportProtocol transport, TimeSpan elapsed)
    {
        _queryChildren.GetOrAdd((type, rcode, transport), static (key, queries) => queries.WithLabels(
                NamedTypes.Contains(key.Item1) ? key.Item1.ToString().ToUpperInvariant() : "other",
                RcodeLabel(key.Item2),
                TransportLabel(key.Item3)), _queries)
            .Inc();
        _durationChildren.GetOrAdd(transport, static (key, histogram) => histogram.WithLabels(TransportLabel(key)), _responseDuration)
            .Observe(elapsed.TotalSeconds);
    }

    /// <summary>Counts one query that was (or, for a client outside the allow-list, would have been) forwarded.</summary>
    public void DnsForwarded(ForwardResult result) => _forwarded.WithLabels(result switch
    {
        ForwardResult.Answered => "answered",
        ForwardResult.Failed => "failed",
        ForwardResult.Overloaded => "overloaded",
        _ => "not_allowed",
    }).Inc();

    /// <summary>Sets the served-object gauges after a new zone is published.</summary>
    public void ZonePublished(int services, int endpoints, int aliasNames)
    {
        _servedServices.Set(services);
        _servedEndpoints.Set(endpoints);
        _servedAliases.Set(aliasNames);
    }

    /// <summary>Keeps the served-object gauges current: <paramref name="count"/> is read at each scrape, off the DNS path.</summary>
    public void ObserveServed(Func<(int Services, int Endpoints, int AliasNames)> count) => Registry.AddBeforeCollectCallback(() =>
    {
        var (services, endpoints, aliasNames) = count();
        ZonePublished(services, endpoints, aliasNames);
    });

    void IRuntimeMetrics.WatchRestarted(ResourceKind kind) => WatchRestarted(kind.ToString());

    void IRuntimeMetrics.Relisted(ResourceKind kind) => WatchRelisted(kind.ToString());

    void IRuntimeMetrics.Reconciled(ResourceKind kind, bool succeeded, TimeSpan duration) => Reconciled(kind.Kind, succeeded, duration);

    public void WatchRestarted(string resource) => _watchRestarts.WithLabels(resource).Inc();

    public void WatchRelisted(string resource) => _watchRelists.WithLabels(resource).Inc();

    public void Reconciled(string controller, bool succeeded, TimeSpan duration)
    {
        _reconciles.WithLabels(controller, succeeded ? "success" : "error").Inc();
        _reconcileDuration.WithLabels(controller).Observe(duration.TotalSeconds);
    }

    /// <summary>A node turned unreachable or reachable in this replica's probes.</summary>
    public void NodeReachabilityChanged(bool reachable) => _reachabilityChanges.WithLabels(reachable ? "reachable" : "unreachable").Inc();

    /// <summary>How many nodes' endpoints are left out of answers now.</summary>
    public void UnreachableNodes(int count) => _unreachableNodes.Set(count);

    public void LeaderChanged(bool isLeader) => _leader.Set(isLeader ? 1 : 0);

    private static string TransportLabel(TransportProtocol transport) => transport.ToString().ToLowerInvariant();

    /// <summary>Response codes as dig prints them (NOERROR, NXDOMAIN, …), so dashboards read like dig output.</summary>
    private static string RcodeLabel(ReturnCode rcode) => rcode switch
    {
        ReturnCode.NoError => "NOERROR",
        ReturnCode.FormatError => "FORMERR",
        ReturnCode.ServerFailure => "SERVFAIL",
        ReturnCode.NxDomain => "NXDOMAIN",
        ReturnCode.NotImplemented => "NOTIMP",
        ReturnCode.Refused => "REFUSED",
        ReturnCode.BadVersion => "BADVERS",
        _ => "other",
    };
}
