using System.Net;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Liveness;

/// <summary>
/// Probes the nodes with served endpoints every interval on every replica and hands the unreachable ones to
/// the zone. Replicas agree through the leader: it publishes its findings in the MiniLbConfig status, and a
/// replica that does not lead also leaves out the nodes the leader found unreachable (<see cref="SetPublished"/>),
/// so no replica keeps answering with a node another one found dead.
/// </summary>
/// <remarks>
/// The node's Lease (kube-node-lease) is deliberately not a signal: kubelet renews it every 10 s and the lease
/// lasts 40 s, so it cannot see a power loss in 3 s; a stale Lease on a host that still answers means the kubelet
/// stopped while its pods usually still serve; and watching Leases costs every replica an event per node every
/// 10 s. The node lifecycle controller acts on the Lease anyway, and its NotReady reaches minilb through the
/// EndpointSlices.
/// </remarks>
public sealed class NodeLivenessLoop(INodeProbe probe, ILogger<NodeLivenessLoop> log, TimeProvider? time = null)
{
    private static readonly IReadOnlySet<string> None = new HashSet<string>();
    private static readonly IReadOnlyDictionary<string, IPAddress> NoTargets = new Dictionary<string, IPAddress>();

    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly Lock gate = new();
    // Serialises handing out, so the zone never gets an older set after a newer one.
    private readonly Lock handing = new();
    private readonly NodeLiveness machine = new(LivenessSettings.Default.Failures);
    private LivenessSettings settings = LivenessSettings.Default;
    private IReadOnlySet<string> published = None;
    private bool followPublished;
    private IReadOnlySet<string> handedOut = None;
    // Completed (and replaced) by Poke: something a quiet loop waits for may have changed.
    private TaskCompletionSource poked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly Task Never = new TaskCompletionSource().Task;

    /// <summary>The nodes to probe (with served endpoints) and their InternalIPs; read once per round.</summary>
    public Func<IReadOnlyDictionary<string, IPAddress>> Targets { get; init; } = () => NoTargets;

    /// <summary>Raised with this replica's own findings when a node turns unreachable or reachable.</summary>
    public event Action<IReadOnlyList<ReachabilityChange>>? Changed;

    /// <summary>Raised when nodes started or stopped being probed (their reachability in the status changes from or to NotProbed).</summary>
    public event Action? ProbedChanged;

    /// <summary>Raised with the nodes whose endpoints leave DNS answers whenever that set changes.</summary>
    public event Action<IReadOnlySet<string>>? UnreachableChanged;

    public LivenessSettings Settings
    {
        get
        {
            lock (gate)
                return settings;
        }
        set
        {
            lock (gate)
            {
                if (settings == value)
                    return;
                settings = value;
            }
            log.LogInformation("Node liveness: {Settings}", value.Describe());
            Poke();
        }
    }

    /// <summary>
    /// The nodes to probe may have changed (a Service, EndpointSlice or Node did): a loop that is quiet — every node
    /// held, or liveness off — runs a round at its next interval instead of sleeping on.
    /// </summary>
    public void Poke() => Interlocked.Exchange(ref poked, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>This replica's findings, by node name.</summary>
    public IReadOnlyDictionary<string, NodeState> States()
    {
        lock (gate)
            return new Dictionary<string, NodeState>(machine.States, StringComparer.Ordinal);
    }

    /// <summary>The nodes the leader published as unreachable; followed only while this replica does not lead.</summary>
    public void SetPublished(IReadOnlySet<string> nodes, bool follow)
    {
        lock (gate)
        {
            published = nodes;
            followPublished = follow;
        }
        HandOut();
    }

    /// <summary>Probes every target once, in parallel, and applies the outcomes.</summary>
    public Task ProbeOnceAsync(CancellationToken ct) => RoundAsync(ct);

    /// <returns>
    /// Null, or a task that completes when the next round could see something new: liveness off (never, until a
    /// <see cref="Poke"/>); every target answered through a connection still held (when one of them ends).
    /// </returns>
    private async Task<Task?> RoundAsync(CancellationToken ct)
    {
        var current = Settings;
        var changes = new List<ReachabilityChange>();
        if (!current.Enabled)
        {
            bool wasProbing;
            lock (gate)
            {
                wasProbing = machine.States.Count > 0;
                changes.AddRange(machine.Clear(time.GetUtcNow(), "node liveness is off"));
            }
            probe.Keep(current, []);
            if (wasProbing)
                ProbedChanged?.Invoke();
            Report(changes);
            return Never;
        }
        var targets = Targets();
        bool probedChanged;
        lock (gate)
        {
            machine.Failures = current.Failures;
            probedChanged = machine.States.Count != targets.Count || !targets.Keys.All(machine.States.ContainsKey);
            changes.AddRange(machine.SetTargets(targets, time.GetUtcNow()));
        }
        probe.Keep(current, targets.Values);
        if (probedChanged)
            ProbedChanged?.Invoke();
        var results = await Task.WhenAll(targets.Select(async t =>
            (Node: t.Key, Result: await probe.ProbeAsync(new IPEndPoint(t.Value, current.Port), current.Timeout, ct))));
        var at = time.GetUtcNow();
        lock (gate)
        {
            foreach (var (node, result) in results)
            {
                if (machine.Record(node, result.Answered, at, result.Detail, result.Silent) is { } change)
                    changes.Add(change);
            }
        }
        Report(changes);
        if (targets.Count == 0)
            return Never;
        return results.All(r => r.Result.Answered)
            ? probe.QuietUntilOneEnds(targets.Values.Select(a => new IPEndPoint(a, current.Port)))
            : null;
    }

    /// <summary>
    /// Probe rounds every interval until cancelled; a round's own failure is logged and the next one runs. While
    /// nothing can change a round's outcome — every node held by a connection the kernel's keepalive watches, no
    /// nodes to probe, or liveness off — the loop sleeps until that changes (a held connection ends, <see cref="Poke"/>)
    /// rather than waking every interval: an idle cluster costs it no wakeup at all.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var started = time.GetTimestamp();
                // Taken before the round, so that a change during the round is not slept through.
                var changed = Volatile.Read(ref poked).Task;
                Task? quietUntil = null;
                try
                {
                    quietUntil = await RoundAsync(ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogError(e, "Node liveness round failed; trying again next interval");
                }
                var wait = Settings.Interval - time.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, time, ct);
                if (quietUntil is not null)
                    await Task.WhenAny(quietUntil, changed).WaitAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            probe.Keep(Settings, []); // stopped: no connection stays held
        }
    }

    private void Report(List<ReachabilityChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.Reachable)
                log.LogInformation("Node {Node} ({Address}) is reachable again ({Detail}); its endpoints are answered again", change.Node, change.Address, change.Detail);
            else
                log.LogWarning("Node {Node} ({Address}) is unreachable ({Detail}); its endpoints leave DNS answers", change.Node, change.Address, change.Detail);
        }
        if (changes.Count > 0)
            Changed?.Invoke(changes);
        HandOut();
    }

    /// <summary>Own findings, plus the leader's while following it; raised only when the set changed.</summary>
    private void HandOut()
    {
        lock (handing)
        {
            HashSet<string> next;
            lock (gate)
            {
                next = new HashSet<string>(machine.Unreachable, StringComparer.Ordinal);
                if (followPublished && settings.Enabled)
                    next.UnionWith(published);
                if (next.SetEquals(handedOut))
                    return;
                handedOut = next;
            }
            UnreachableChanged?.Invoke(next);
        }
    }
}
