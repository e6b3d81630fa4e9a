using System.Collections.Immutable;
using System.Text;

namespace MiniLb.Operator.Observability;

/// <summary>Which probe a check answers: liveness (restart the pod when it fails) or readiness (take it out of the DNS Service).</summary>
public enum Probe
{
    Liveness,
    Readiness,
}

/// <summary>A check's verdict; <see cref="Reason"/> says what is wrong, in words an operator can act on.</summary>
public readonly record struct CheckResult(bool Healthy, string? Reason = null)
{
    public static CheckResult Ok { get; } = new(true);

    public static CheckResult Failed(string reason) => new(false, reason);
}

/// <summary>A named check and its verdict at one evaluation.</summary>
public sealed record CheckOutcome(string Name, CheckResult Result);

/// <summary>One evaluation of a probe: healthy when every check is; <see cref="Text"/> is what /healthz or /readyz answers.</summary>
public sealed record HealthReport(IReadOnlyList<CheckOutcome> Outcomes)
{
    public bool Healthy => Outcomes.All(o => o.Result.Healthy);

    /// <summary>
    /// In the kube-apiserver's style: with <paramref name="verbose"/> one <c>[+]</c>/<c>[-]</c> line per check. A failing
    /// check, or one passing with a note, is always listed, so the kubelet's probe event says why.
    /// </summary>
    public string Text(string endpoint, bool verbose)
    {
        var text = new StringBuilder();
        if (verbose || !Healthy || Outcomes.Any(o => o.Result.Reason is not null))
        {
            text.Append("[+]process ok\n");
            foreach (var (name, result) in Outcomes)
                text.Append(!result.Healthy ? $"[-]{name} failed: {result.Reason}\n" : result.Reason is { } note ? $"[+]{name} ok, but: {note}\n" : $"[+]{name} ok\n");
        }
        return text.Append(Healthy ? $"{endpoint} check passed\n" : $"{endpoint} check failed\n").ToString();
    }
}

/// <summary>
/// The checks behind <c>/healthz</c> and <c>/readyz</c>. Components register a check (a function evaluated
/// per request) or a <see cref="HealthSignal"/> (a flag they set, e.g. "DNS bound", "caches synced").
/// /readyz evaluates the liveness checks too: a replica that is not alive is not ready either.
/// </summary>
public sealed class HealthChecks
{
    private ImmutableList<(string Name, Probe Probe, Func<CheckResult> Check)> _checks = [];

    public void Add(string name, Probe probe, Func<CheckResult> check)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(check);
        ImmutableInterlocked.Update(ref _checks, (list, entry) =>
        {
            if (list.Exists(c => c.Name == entry.Name))
                throw new InvalidOperationException($"health check '{entry.Name}' is registered twice");
            return list.Add(entry);
        }, (Name: name, Probe: probe, Check: check));
    }

    /// <summary>
    /// Registers a flag that fails with <paramref name="pendingReason"/> until the component sets it; with null it
    /// passes until the component clears it (e.g. readiness that ends when the process starts stopping).
    /// </summary>
    public HealthSignal AddSignal(string name, Probe probe, string? pendingReason)
    {
        var signal = new HealthSignal(pendingReason);
        Add(name, probe, signal.Evaluate);
        return signal;
    }

    /// <summary>Runs the checks of <paramref name="probe"/> (for readiness: liveness ones first). A check that throws fails with the exception's message.</summary>
    public IReadOnlyList<CheckOutcome> Evaluate(Probe probe) =>
        _checks.Where(c => c.Probe == Probe.Liveness || probe == Probe.Readiness)
            .OrderBy(c => c.Probe)
            .Select(c => new CheckOutcome(c.Name, Run(c.Check)))
            .ToList();

    /// <summary>The verdict and text of <paramref name="probe"/> now: what the endpoint serves and what tests assert.</summary>
    public HealthReport Report(Probe probe) => new(Evaluate(probe));

    private static CheckResult Run(Func<CheckResult> check)
    {
        try
        {
            return check();
        }
        catch (Exception e)
        {
            return CheckResult.Failed($"check threw {e.GetType().Name}: {e.Message}");
        }
    }
}

/// <summary>A check a component flips: healthy once <see cref="Set"/>, failing again after <see cref="Clear"/>.</summary>
public sealed class HealthSignal(string? pendingReason)
{
    private volatile string? _failure = pendingReason;

    public void Set() => _failure = null;

    public void Clear(string reason) => _failure = reason;

    public CheckResult Evaluate() => _failure is { } reason ? CheckResult.Failed(reason) : CheckResult.Ok;
}
