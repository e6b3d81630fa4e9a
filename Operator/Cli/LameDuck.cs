using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Cli;

/// <summary>
/// The stop of a server command on SIGTERM (as Kubernetes stops a pod during a rolling upgrade): /readyz fails at once,
/// so the pod leaves the DNS Service's endpoints, but DNS keeps answering for the lame-duck period, because kube-proxy
/// and the nodes' conntrack entries still send clients here for a second or more (CoreDNS's `lameduck`, same reason).
/// A second SIGTERM or Ctrl-C ends the period early.
/// </summary>
internal sealed class LameDuck
{
    public const double DefaultSeconds = 5;
    private const double MaxSeconds = 300;

    private readonly HealthSignal ready;

    private LameDuck(HealthSignal ready) => this.ready = ready;

    public static Option<double> CreateOption() => new("--lame-duck")
    {
        Description = $"Seconds to keep answering DNS after SIGTERM, with /readyz failing, before exiting (default {DefaultSeconds}; 0 exits at once). "
                      + "The pod's terminationGracePeriodSeconds must be longer.",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => DefaultSeconds,
        Validators =
        {
            result =>
            {
                // A value that is not a number is reported by the parser ("Cannot parse argument 'x' for option '--lame-duck'").
                if (result.Tokens is [.., var token] && double.TryParse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                    && seconds is < 0 or > MaxSeconds or double.NaN)
                    result.AddError($"--lame-duck {token.Value}: must be between 0 and {MaxSeconds} seconds");
            },
        },
    };

    /// <summary>Adds the readiness check that fails from the moment the stop begins.</summary>
    public static LameDuck Register(HealthChecks checks) => new(checks.AddSignal("not-stopping", Probe.Readiness, pendingReason: null));

    /// <summary>
    /// Waits for SIGTERM or Ctrl-C, then runs the lame-duck period: readiness off, <paramref name="stepDown"/> (giving up
    /// leadership, run alongside) and the wait. Cancelling <paramref name="ct"/> (not a signal) stops at once, period or not.
    /// </summary>
    public async Task WaitForStopAsync(TimeSpan period, Func<Task> stepDown, TextWriter output, CancellationToken ct)
    {
        await ServeCommand.WaitForStopAsync(ct);
        if (ct.IsCancellationRequested)
            return;
        var clock = Stopwatch.StartNew();
        ready.Clear($"stopping: DNS answers for {period.TotalSeconds:0.#} s more (lame duck), then the process exits");
        await output.WriteLineAsync($"Stopping: /readyz fails now; DNS keeps answering for {period.TotalSeconds:0.#} s (lame duck).");
        await output.FlushAsync(CancellationToken.None);
        var steppingDown = stepDown();
        using var remaining = CancellationTokenSource.CreateLinkedTokenSource(ct);
        remaining.CancelAfter(period);
        // Returns when the period is over, on a second signal, or when ct is cancelled.
        await ServeCommand.WaitForStopAsync(remaining.Token);
        // Giving up the lease has its own timeout (LeaseLeadership); it does not hold the exit much beyond the period.
        await steppingDown;
        await output.WriteLineAsync($"Lame duck over after {clock.Elapsed.TotalSeconds:0.0} s.");
    }
}
