using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

public sealed record ControllerOptions
{
    /// <summary>Objects reconciled at the same time (never the same object twice).</summary>
    public int Parallelism { get; init; } = 2;

    /// <summary>Delays between retries of a failing object.</summary>
    public Backoff Retry { get; init; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
}

/// <summary>
/// Runs one <see cref="IEntityController{T}"/> from an informer: every change queues the object's key; workers take
/// keys, read the object from the informer's cache and reconcile it (or report its deletion with its last state).
/// Only the leader reconciles; a replica that becomes leader queues every cached object once.
/// </summary>
public sealed class ControllerRunner<T> where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Informer<T> informer;
    private readonly IEntityController<T> controller;
    private readonly ILeadership leadership;
    private readonly ILogger log;
    private readonly ControllerOptions options;
    private readonly IRuntimeMetrics? metrics;
    private readonly TimeProvider time;
    private readonly ConcurrentDictionary<string, T> deleted = new(StringComparer.Ordinal);

    public ControllerRunner(Informer<T> informer, IEntityController<T> controller, ILeadership leadership,
        ILogger<ControllerRunner<T>> log, TimeProvider? time = null, ControllerOptions? options = null, IRuntimeMetrics? metrics = null)
    {
        this.metrics = metrics;
        this.time = time ?? TimeProvider.System;
        this.informer = informer;
        this.controller = controller;
        this.leadership = leadership;
        this.log = log;
        this.options = options ?? new ControllerOptions();
        Queue = new WorkQueue<string>(time, this.options.Retry);
    }

    public WorkQueue<string> Queue { get; }

    /// <summary>Where a 401/403 failure is reported instead of a warning per retry.</summary>
    public AccessProblems? Access { get; init; }

    /// <summary>Reconciles until <paramref name="ct"/> is cancelled; the informer must be running.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var subscription = informer.Subscribe(OnChange);
        leadership.Changed += OnLeadershipChanged;
        try
        {
            await informer.WaitForSyncAsync(ct);
            // Objects cached before the subscription produced no event here.
            foreach (var key in informer.Keys)
                Queue.Add(key);
            using var stop = ct.Register(Queue.ShutDown);
            var workers = Enumerable.Range(0, Math.Max(1, options.Parallelism)).Select(_ => Task.Run(() => WorkAsync(ct), CancellationToken.None));
            await Task.WhenAll(workers);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            leadership.Changed -= OnLeadershipChanged;
            Queue.ShutDown();
        }
    }

    private void OnChange(InformerEvent<T> change)
    {
        var key = Informer<T>.KeyOf((change.New ?? change.Old)!);
        if (change.Type == InformerEventType.Deleted)
            deleted[key] = change.Old!;
        else
            deleted.TryRemove(key, out _);
        Queue.Add(key);
    }

    private void OnLeadershipChanged(bool leading)
    {
        if (!leading)
            return;
        foreach (var key in informer.Keys)
            Queue.Add(key);
    }

    private async Task WorkAsync(CancellationToken ct)
    {
        while (await Queue.TakeAsync(CancellationToken.None) is { Ok: true, Key: var key })
        {
            try
            {
                if (!ct.IsCancellationRequested)
                    await ProcessAsync(key, ct);
            }
            finally
            {
                Queue.Done(key);
            }
        }
    }

    private async Task ProcessAsync(string key, CancellationToken ct)
    {
        if (!leadership.IsLeader)
        {
            // The next leader reconciles everything anyway; see OnLeadershipChanged.
            Queue.Forget(key);
            return;
        }
        var current = informer.Get(key);
        T? gone = null;
        if (current is null && !deleted.TryGetValue(key, out gone))
            return;
        ReconciliationResult result;
        var started = time.GetTimestamp();
        try
        {
            result = current is not null
                ? await controller.ReconcileAsync(current, ct)
                : await controller.DeletedAsync(gone!, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            result = ReconciliationResult.Failure(e.Message, e);
        }
        metrics?.Reconciled(informer.Kind, result.IsSuccess, time.GetElapsedTime(started));
        Settle(key, result, gone);
    }

    private void Settle(string key, ReconciliationResult result, T? gone)
    {
        if (result.IsSuccess)
        {
            Queue.Forget(key);
            if (gone is not null)
                deleted.TryRemove(new KeyValuePair<string, T>(key, gone));
            if (result.RequeueAfter is { } after)
                Queue.AddAfter(key, after);
            return;
        }
        if (result.RequeueAfter is { } retryAfter)
            Queue.AddAfter(key, retryAfter);
        else
            Queue.AddRateLimited(key, result.Error is { } error ? Backoff.RetryAfter(error) : null);
        if (Access?.Observe(result.Error) == true)
            return;
        log.LogWarning(result.Error, "{Kind} {Key}: reconcile failed ({Failures} in a row): {Message}",
            informer.Kind.Kind, key, Queue.Failures(key), result.ErrorMessage);
    }
}
