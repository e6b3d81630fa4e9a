using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

/// <summary>
/// The operator's runtime, as KubeOps' builder: one informer per watched kind, the controllers registered on them
/// and leader election, run together until cancelled. Other consumers (the DNS read model) subscribe to the
/// informers <see cref="Watch{T}"/> returns before <see cref="RunAsync"/> starts.
/// </summary>
public sealed class OperatorHost(ILeadership leadership, ILoggerFactory loggers, TimeProvider? time = null, InformerOptions? informerOptions = null)
{
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly List<IInformer> informers = [];
    private readonly List<Func<CancellationToken, Task>> controllers = [];
    private readonly List<WorkQueue<string>> queues = [];
    private bool started;

    public ILeadership Leadership => leadership;

    public IReadOnlyList<IInformer> Informers => informers;

    /// <summary>True once every informer has listed its kind (an absent kind counts as listed): readiness.</summary>
    public bool HasSynced => informers.All(i => i.HasSynced);

    /// <summary>True while a controller has a key queued or in hand (keys waiting for a delay not counted).</summary>
    public bool ControllersBusy => queues.Any(q => !q.IsIdle);

    /// <summary>The informer for a kind; one per kind, so every consumer shares its cache and watch.</summary>
    public Informer<T> Watch<T>(ListWatch<T> source) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        EnsureNotStarted();
        if (informers.Any(i => i.Kind == source.Kind))
            throw new InvalidOperationException($"{source.Kind} is already watched; share its informer");
        var informer = new Informer<T>(source, loggers.CreateLogger<Informer<T>>(), time, informerOptions);
        informers.Add(informer);
        return informer;
    }

    /// <returns>The runner, whose queue other sources (changes of related kinds) may add keys to.</returns>
    public ControllerRunner<T> AddController<T>(Informer<T> informer, IEntityController<T> controller, ControllerOptions? options = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        EnsureNotStarted();
        var runner = new ControllerRunner<T>(informer, controller, leadership, loggers.CreateLogger<ControllerRunner<T>>(), time, options, informerOptions?.Metrics)
        {
            Access = informerOptions?.Access,
        };
        controllers.Add(runner.RunAsync);
        queues.Add(runner.Queue);
        return runner;
    }

    public async Task WaitForSyncAsync(CancellationToken ct)
    {
        foreach (var informer in informers)
            await informer.WaitForSyncAsync(ct);
    }

    /// <summary>Runs everything until <paramref name="ct"/> is cancelled; the lease is released after the controllers stopped.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        EnsureNotStarted();
        started = true;
        using var election = new CancellationTokenSource();
        var electing = leadership is LeaseLeadership lease ? lease.RunAsync(election.Token) : Task.CompletedTask;
        try
        {
            await Task.WhenAll(informers.Select(i => i.RunAsync(ct)).Concat(controllers.Select(run => run(ct))));
        }
        finally
        {
            await election.CancelAsync();
            await electing;
        }
    }

    private void EnsureNotStarted()
    {
        if (started)
            throw new InvalidOperationException("the operator is already running; register informers and controllers before RunAsync");
    }
}
