namespace MiniLb.Operator.Kube;

/// <summary>
/// What the informers and controller runners report for metrics (Observability's Telemetry implements it), so this
/// framework stays free of any metrics library. Calls are cheap and never throw.
/// </summary>
public interface IRuntimeMetrics
{
    /// <summary>A watch ended (timeout, error or dropped connection) and is opened again.</summary>
    void WatchRestarted(ResourceKind kind);

    /// <summary>A full LIST after the watch's resourceVersion expired (410) or vanished.</summary>
    void Relisted(ResourceKind kind);

    void Reconciled(ResourceKind kind, bool succeeded, TimeSpan duration);
}
