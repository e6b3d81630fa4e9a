using System.Diagnostics.CodeAnalysis;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Liveness;

/// <summary>Node liveness as configured in <c>spec.nodeLiveness</c>.</summary>
/// <param name="Port">TCP port probed on each node's InternalIP.</param>
/// <param name="Interval">Time between the starts of two probe rounds.</param>
/// <param name="Failures">Probes in a row without an answer before a node is unreachable.</param>
public sealed record LivenessSettings(bool Enabled, int Port, TimeSpan Interval, int Failures)
{
    public static LivenessSettings Default { get; } = From(new NodeLivenessSpec());

    /// <summary>Half the interval, so a round of probes ends before the next one starts.</summary>
    public TimeSpan Timeout => Interval / 2;

    /// <summary>Keepalive idle time of a held connection: the interval in whole seconds, at least 1 (the socket option's granularity).</summary>
    public TimeSpan KeepAliveIdle => TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(Interval.TotalSeconds)));

    /// <summary>
    /// The longest a powered-off node keeps its endpoints in answers: the held connection's keepalive gives up two idle
    /// periods after the last answer (its unanswered probes count as the failures), and the next round sees it.
    /// </summary>
    public TimeSpan Detection => 2 * KeepAliveIdle + Interval;

    /// <summary>
    /// The spec as settings, or the field outside the schema's range (an API server without the schema lets anything
    /// through); null: the defaults.
    /// </summary>
    public static bool TryRead(NodeLivenessSpec? spec, out LivenessSettings settings, [NotNullWhen(false)] out SpecProblem? problem)
    {
        settings = Default;
        spec ??= new NodeLivenessSpec();
        problem = spec.Port is < 1 or > 65535 ? new("spec.nodeLiveness.port", $"{spec.Port} must be between 1 and 65535")
            : spec.IntervalMilliseconds is < 200 or > 60000 ? new("spec.nodeLiveness.intervalMilliseconds", $"{spec.IntervalMilliseconds} must be between 200 and 60000 milliseconds")
            : spec.Failures is < 1 or > 10 ? new("spec.nodeLiveness.failures", $"{spec.Failures} must be between 1 and 10")
            : null;
        if (problem is not null)
            return false;
        settings = From(spec);
        return true;
    }

    /// <summary>The spec as settings, clamped to the schema's ranges (<see cref="TryRead"/> names a value outside them instead).</summary>
    public static LivenessSettings From(NodeLivenessSpec spec) => new(
        spec.Enabled,
        Math.Clamp(spec.Port, 1, 65535),
        TimeSpan.FromMilliseconds(Math.Clamp(spec.IntervalMilliseconds, 200, 60000)),
        Math.Clamp(spec.Failures, 1, 10));

    /// <summary>For a status message and the log.</summary>
    public string Describe() => Enabled
        ? $"port {Port}, every {Interval.TotalMilliseconds:0} ms with a {Timeout.TotalMilliseconds:0} ms timeout, unreachable after {Failures} silent probe(s) in a row"
        : "off: every ready endpoint is answered until Kubernetes marks it not ready";
}
