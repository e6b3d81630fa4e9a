using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Controllers;

/// <summary>
/// When a `minilb run` replica is alive and ready: the one rule its /healthz and /readyz serve and the tests assert
/// (through <see cref="HealthChecks.Report"/>). Alive while the operator's loop runs; ready once every watched kind is
/// listed and DNS listens. What does not make the answers wrong is reported on a passing check, never failed:
/// a missing permission (every replica has the same RBAC, so failing would take all of them out of the DNS Service),
/// the flags or defaults in force (a normal way to run; readiness must not wait for a CRD), a newest spec not applied.
/// </summary>
public static class OperatorHealth
{
    /// <param name="running">The operator's <see cref="LoadBalancerOperator.RunAsync"/>.</param>
    public static void Register(HealthChecks checks, LoadBalancerOperator minilb, Task running)
    {
        checks.Add("informers", Probe.Liveness, () => running.IsCompleted
            ? CheckResult.Failed($"the operator stopped{(running.Exception is { } e ? ": " + e.GetBaseException().Message : "")}")
            : CheckResult.Ok);
        checks.Add("caches-synced", Probe.Readiness, () => minilb.Host.Informers.Where(i => !i.HasSynced).Select(i => i.Kind.ToString()).ToList() is { Count: > 0 } waiting
            ? CheckResult.Failed($"waiting for the first LIST of {string.Join(", ", waiting)}")
            : CheckResult.Ok);
        checks.Add("config-source", Probe.Readiness, () => ConfigSourceNote(minilb.Config) is { } note ? new CheckResult(true, note) : CheckResult.Ok);
        checks.Add("api-access", Probe.Readiness, () => new CheckResult(true, minilb.Access.Summary()));
        checks.Add("dns-bound", Probe.Readiness, () => minilb.Config.Host is not null
            ? CheckResult.Ok
            : CheckResult.Failed(minilb.Config.Problem?.Message ?? "DNS is not listening yet"));
    }

    /// <summary>Null while the selected MiniLbConfig is in force as its newest spec says.</summary>
    private static string? ConfigSourceNote(LiveConfig config) => config.Current switch
    {
        { Source: not null } when config.Problem is { } problem => $"serving the last good configuration; the newest spec is not applied: {problem.Message}",
        { Source: not null } => null,
        _ => config.DescribeSource(),
    };
}
