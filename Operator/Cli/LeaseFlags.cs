using System.CommandLine;
using System.Globalization;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Cli;

/// <summary>
/// `run`'s leader-election timing, as controller-runtime and cert-manager name it: how long a Lease lasts, how long the
/// leader keeps leading without a renewal landing, and how often it renews (a follower looks as often).
/// </summary>
internal sealed class LeaseFlags
{
    private const int MaxSeconds = 600;

    public Option<int> LeaseDuration { get; } = Seconds("--leader-election-lease-duration",
        "How long a leader's Lease lasts: a successor takes over at most this long plus one retry period after a leader dies without giving it back.",
        LeaseLeadershipOptions.DefaultLeaseDuration);

    public Option<int> RenewDeadline { get; } = Seconds("--leader-election-renew-deadline",
        "How long the leader keeps leading while no renewal lands (an API outage); less than the lease duration.",
        LeaseLeadershipOptions.DefaultRenewDeadline);

    public Option<int> RetryPeriod { get; } = Seconds("--leader-election-retry-period",
        "How often the leader renews its Lease and a follower looks at it.",
        LeaseLeadershipOptions.DefaultRetryPeriod);

    public IEnumerable<Option> All => [LeaseDuration, RenewDeadline, RetryPeriod];

    /// <summary>
    /// The Lease options with this timing, or null and why: client-go's rules, so that the leader stops writing before a
    /// successor may start (renew deadline under the lease duration) and a renewal can fail once and still land in time.
    /// </summary>
    public LeaseLeadershipOptions? Apply(ParseResult parse, LeaseLeadershipOptions options, out string? problem)
    {
        var lease = parse.GetValue(LeaseDuration);
        var renew = parse.GetValue(RenewDeadline);
        var retry = parse.GetValue(RetryPeriod);
        problem = renew >= lease
            ? $"--leader-election-renew-deadline {renew} must be less than --leader-election-lease-duration {lease}"
            : renew < 2 * retry
                ? $"--leader-election-renew-deadline {renew} must be at least twice --leader-election-retry-period {retry}, so a failed renewal can be tried again in time"
                : null;
        return problem is null
            ? options with { LeaseDuration = TimeSpan.FromSeconds(lease), RenewDeadline = TimeSpan.FromSeconds(renew), RetryPeriod = TimeSpan.FromSeconds(retry) }
            : null;
    }

    private static Option<int> Seconds(string name, string description, TimeSpan defaultValue)
    {
        var seconds = (int)defaultValue.TotalSeconds;
        return new Option<int>(name)
        {
            Description = description,
            HelpName = "SECONDS",
            DefaultValueFactory = _ => seconds,
            Validators =
            {
                result =>
                {
                    // A value that is not a whole number is reported by the parser ("Cannot parse argument 'x' for option ...").
                    if (result.Tokens is [.., var token] && int.TryParse(token.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
                        && value is < 1 or > MaxSeconds)
                        result.AddError($"{name} {token.Value}: must be between 1 and {MaxSeconds} seconds");
                },
            },
        };
    }
}
