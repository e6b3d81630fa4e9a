using System.Net;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Liveness;

/// <summary>What node liveness knows about one node.</summary>
/// <param name="Address">The InternalIP probed.</param>
/// <param name="Since">When <see cref="Reachable"/> last changed (or the node was first probed).</param>
/// <param name="SilentInARow">Probes in a row that got no answer.</param>
public sealed record NodeState(string Node, IPAddress Address, bool Reachable, DateTimeOffset Since, int SilentInARow)
{
    public string Reachability => Reachable ? Reachabilities.Reachable : Reachabilities.Unreachable;
}

/// <summary>A node that became unreachable, reachable again, or left the probed set while unreachable.</summary>
/// <param name="Detail">What the last probe saw ("connection timed out after 500 ms", "node no longer has served endpoints").</param>
public sealed record ReachabilityChange(string Node, IPAddress Address, bool Reachable, DateTimeOffset At, string Detail);

/// <summary>
/// The node liveness state machine, without sockets or clocks: the probed nodes, and per node the probes in a
/// row without an answer. A node turns unreachable after <c>failures</c> silent probes and reachable again on the
/// first answer, so a flapping link (answers in between) never takes a node out. New nodes start reachable:
/// nothing is removed from DNS on no evidence. Not thread-safe; one prober loop owns it.
/// </summary>
public sealed class NodeLiveness(int failures)
{
    private readonly Dictionary<string, NodeState> states = new(StringComparer.Ordinal);
    private readonly HashSet<string> unreachable = new(StringComparer.Ordinal);

    public int Failures { get; set; } = failures;

    public IReadOnlyDictionary<string, NodeState> States => states;

    /// <summary>The nodes whose endpoints should leave DNS answers.</summary>
    public IReadOnlySet<string> Unreachable => unreachable;

    /// <summary>
    /// The nodes to probe: those with served endpoints, with their InternalIP. A node that leaves the set is
    /// forgotten (an unreachable one is reported, so its name leaves <see cref="Unreachable"/>); a node whose
    /// address changed starts over.
    /// </summary>
    public IReadOnlyList<ReachabilityChange> SetTargets(IReadOnlyDictionary<string, IPAddress> targets, DateTimeOffset now)
    {
        var changes = new List<ReachabilityChange>();
        foreach (var (node, state) in states.ToList())
        {
            if (targets.TryGetValue(node, out var address) && address.Equals(state.Address))
                continue;
            states.Remove(node);
            if (unreachable.Remove(node))
                changes.Add(new(node, state.Address, true, now, targets.ContainsKey(node)
                    ? $"its InternalIP changed to {targets[node]}; probing it afresh"
                    : "no longer probed (deleted, or no served endpoints on it)"));
        }
        foreach (var (node, address) in targets)
            states.TryAdd(node, new NodeState(node, address, true, now, 0));
        return changes;
    }

    /// <summary>The outcome of one probe of <paramref name="node"/>; a change when it crossed the line either way.</summary>
    public ReachabilityChange? Record(string node, bool answered, DateTimeOffset at, string detail, int silentProbes = 1)
    {
        if (!states.TryGetValue(node, out var state))
            return null; // left the set while its probe ran
        var silent = answered ? 0 : state.SilentInARow + silentProbes;
        var reachable = answered || (state.Reachable && silent < Failures);
        states[node] = state with { SilentInARow = silent, Reachable = reachable, Since = reachable == state.Reachable ? state.Since : at };
        if (reachable == state.Reachable)
            return null;
        if (reachable)
            unreachable.Remove(node);
        else
            unreachable.Add(node);
        return new(node, state.Address, reachable, at, detail);
    }

    /// <summary>Liveness switched off: every node is answered again.</summary>
    public IReadOnlyList<ReachabilityChange> Clear(DateTimeOffset now, string why)
    {
        var changes = unreachable.Select(n => new ReachabilityChange(n, states[n].Address, true, now, why)).ToList();
        states.Clear();
        unreachable.Clear();
        return changes;
    }
}
