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
    public static void Register(HealthChecks checks, LoadBalancerOperator minilb, Task running) =>
        Register(checks, running, () => minilb.Host.Informers.Where(i => !i.HasSynced).Select(i => i.Kind.ToString()).ToList(),
            new LiveConfigInForce(minilb.Config), minilb.Access.Summary);

    /// <param name="unlisted">The kinds whose first LIST has not finished.</param>
    /// <param name="forbidden">The permissions the API server refused, in one line; null when none.</param>
    public static void Register(HealthChecks checks, Task running, Func<IReadOnlyList<string>> unlisted, IConfigInForce config, Func<string?> forbidden)
    {
        checks.Add("informers", Probe.Liveness, () => running.IsCompleted
            ? CheckResult.Failed($"the operator stopped{(running.Exception is { } e ? ": " + e.GetBaseException().Message : "")}")
            : CheckResult.Ok);
        checks.Add("caches-synced", Probe.Readiness, () => unlisted() is { Count: > 0 } waiting
            ? CheckResult.Failed($"waiting for the first LIST of {string.Join(", ", waiting)}")
            : CheckResult.Ok);
        checks.Add("config-source", Probe.Readiness, () => ConfigSourceNote(config) is { } note ? new CheckResult(true, note) : CheckResult.Ok);
        checks.Add("api-access", Probe.Readiness, () => new CheckResult(true, forbidden()));
        checks.Add("dns-bound", Probe.Readiness, () => config.DnsEndPoints.Count > 0
            ? CheckResult.Ok
            : CheckResult.Failed(config.Problem?.Message ?? "DNS is not listening yet"));
    }

    /// <summary>Null while the selected MiniLbConfig is in force as its newest spec says.</summary>
    private static string? ConfigSourceNote(IConfigInForce config) => config.Current switch
    {
        { Source: not null } when config.Problem is { } problem => $"serving the last good configuration; the newest spec is not applied: {problem.Message}",
        { Source: not null } => null,
        _ => config.DescribeSource(),
    };
}
