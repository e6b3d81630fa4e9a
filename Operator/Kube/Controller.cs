namespace MiniLb.Operator.Kube;

/// <summary>What a reconcile asks of the framework next, as KubeOps' <c>ReconciliationResult</c>.</summary>
public sealed record ReconciliationResult
{
    public bool IsSuccess { get; private init; }
    public string? ErrorMessage { get; private init; }
    public Exception? Error { get; private init; }

    /// <summary>Reconcile again after this long. For a failure without it, the work queue's backoff decides.</summary>
    public TimeSpan? RequeueAfter { get; private init; }

    public static ReconciliationResult Success(TimeSpan? requeueAfter = null) =>
        new() { IsSuccess = true, RequeueAfter = requeueAfter };

    public static ReconciliationResult Failure(string message, Exception? error = null, TimeSpan? requeueAfter = null) =>
        new() { IsSuccess = false, ErrorMessage = message, Error = error, RequeueAfter = requeueAfter };
}

/// <summary>
/// One controller per kind, as KubeOps' <c>IEntityController&lt;T&gt;</c>. Calls for one object never overlap; both
/// calls must be idempotent, since an object is reconciled again after restarts, relists and leadership changes.
/// </summary>
public interface IEntityController<in T>
{
    /// <summary>The object was added or changed (or a requeue came due): make the world match it.</summary>
    Task<ReconciliationResult> ReconcileAsync(T entity, CancellationToken ct);

    /// <summary>The object is gone; <paramref name="entity"/> is its last known state.</summary>
    Task<ReconciliationResult> DeletedAsync(T entity, CancellationToken ct);
}
