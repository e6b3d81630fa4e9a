using System.Net;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

/// <summary>Whether this replica may write (status, events). Every replica watches and serves DNS regardless.</summary>
public interface ILeadership
{
    bool IsLeader { get; }

    /// <summary>Raised with the new value whenever <see cref="IsLeader"/> changes.</summary>
    event Action<bool>? Changed;
}

/// <summary>A single replica (`--leader-election false`): always the leader.</summary>
public sealed class AlwaysLeader : ILeadership
{
    public bool IsLeader => true;

    public event Action<bool>? Changed
    {
        add { }
        remove { }
    }
}

public sealed record LeaseLeadershipOptions
{
    public const string ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

    public required string Namespace { get; init; }
    public required string Identity { get; init; }
    public string LeaseName { get; init; } = "minilb-leader";
    /// <summary>
    /// The defaults: client-go's 15/10/2 s doubled in length and with a 10-s retry, as cert-manager lengthens them
    /// (60/40/15 s). Leadership only decides who writes status and events; every replica answers DNS, so a successor
    /// taking over up to 40 s after a leader dies without giving the Lease back costs no client an answer, while a
    /// renewal every 2 s or 5 s was the largest part of an idle replica's CPU (docs/benchmarks.md). A clean stop gives
    /// the Lease back, so a rolling upgrade hands over within one retry period.
    /// </summary>
    public static readonly TimeSpan DefaultLeaseDuration = TimeSpan.FromSeconds(30), DefaultRenewDeadline = TimeSpan.FromSeconds(20),
        DefaultRetryPeriod = TimeSpan.FromSeconds(10);

    public TimeSpan LeaseDuration { get; init; } = DefaultLeaseDuration;
    public TimeSpan RenewDeadline { get; init; } = DefaultRenewDeadline;

    /// <summary>
    /// How often the leader renews (a PATCH of the Lease; see JsonLeaseLock) and a follower reads it. Two renewals fit
    /// in the RenewDeadline.
    /// </summary>
    public TimeSpan RetryPeriod { get; init; } = DefaultRetryPeriod;

    /// <summary>Identity from POD_NAME (downward API) or the host name; namespace as given, else POD_NAMESPACE, the service account's, or `default`.</summary>
    public static LeaseLeadershipOptions FromEnvironment(string? @namespace = null) => new()
    {
        Identity = Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod : System.Net.Dns.GetHostName(),
        Namespace = @namespace
            ?? (Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 } ns ? ns : null)
            ?? (File.Exists(ServiceAccountNamespaceFile) ? File.ReadAllText(ServiceAccountNamespaceFile).Trim() : null)
            ?? "default",
    };
}

/// <summary>
/// Leader election over a coordination.k8s.io Lease, by client-go's rules, through k8s.LeaderElection's
/// <see cref="ILock"/> and <see cref="LeaderElectionRecord"/> (the lock is <see cref="JsonLeaseLock"/>).
/// <list type="bullet">
/// <item>Every <see cref="LeaseLeadershipOptions.RetryPeriod"/> one round: the leader renews; a follower reads the Lease
/// and takes it once its holder let it lapse (no renewal seen for the lease's duration) or gave it up.</item>
/// <item>The leader stops leading when a round finds the Lease held by another replica, or when no renewal landed
/// for <see cref="LeaseLeadershipOptions.RenewDeadline"/> (an API outage): before the lease expires for the others.
/// A renewal refused because the Lease changed (someone labelled it, say) is tried again at once on a fresh read.</item>
/// <item>On a clean shutdown it gives the Lease back (empty holder, one-second duration), as client-go does, so a
/// successor need not wait it out.</item>
/// </list>
/// KubernetesClient's <see cref="LeaderElector"/> did the same with more wake-ups: each round a Task.Run hop and a
/// renew-deadline timer that nothing cancels, which fires ten seconds later. Here a round is one timer, and the renew
/// deadline is a timeout on the round's requests that is disposed, unfired, when they answer.
/// </summary>
[GenericRbac("coordination.k8s.io", "leases", RbacVerb.Get | RbacVerb.Create | RbacVerb.Patch, Scope = RbacScope.OperatorNamespace)]
public sealed class LeaseLeadership(IKubernetes client, LeaseLeadershipOptions options, ILogger<LeaseLeadership> log, TimeProvider? time = null)
    : ILeadership
{
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly CancellationTokenSource resignation = new();
    private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool leading;
    private volatile bool started;
    private LeaderElectionRecord? observed;
    private DateTimeOffset observedAt;
    private DateTimeOffset renewedAt;
    private string? reportedLeader;

    private enum Outcome
    {
        Held,
        HeldByOther,
        Refused,
    }

    public bool IsLeader => leading;

    public event Action<bool>? Changed;

    public string Identity => options.Identity;

    /// <summary>Where a 401/403 on the Lease is reported instead of a warning per retry.</summary>
    public AccessProblems? Access { get; init; }

    /// <summary>Competes for the lease until <paramref name="ct"/> is cancelled or <see cref="ResignAsync"/>, then releases it if held.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        started = true;
        using var competing = CancellationTokenSource.CreateLinkedTokenSource(ct, resignation.Token);
        ct = competing.Token;
        var lease = new JsonLeaseLock(client, options.Namespace, options.LeaseName, options.Identity);
        try
        {
            while (true)
            {
                await RoundAsync(lease, ct);
                await Task.Delay(options.RetryPeriod, time, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            Set(false);
            await ReleaseAsync(lease);
            released.TrySetResult();
        }
    }

    /// <summary>
    /// Stops competing and gives the lease up now, while the rest of the operator runs on: a replica in its lame-duck
    /// period still answers DNS, but a successor should take over statuses and events without waiting for the lease to
    /// expire. Completes once the lease is released (or its release failed and it will expire on its own).
    /// </summary>
    public async Task ResignAsync()
    {
        await resignation.CancelAsync();
        if (started)
            await released.Task;
    }

    /// <summary>One round: acquire or renew, within what is left of the renew deadline while leading.</summary>
    private async Task RoundAsync(ILock lease, CancellationToken ct)
    {
        var budget = leading ? options.RenewDeadline - (time.GetUtcNow() - renewedAt) : options.RenewDeadline;
        using var deadline = new CancellationTokenSource(budget > TimeSpan.Zero ? budget : TimeSpan.Zero, time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        Outcome outcome;
        try
        {
            outcome = await TryAcquireOrRenewAsync(lease, attempt.Token);
            if (outcome == Outcome.Refused)
                outcome = await TryAcquireOrRenewAsync(lease, attempt.Token); // the Lease changed: once more, on a fresh read
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            if (Access?.Observe(e) != true)
            {
                var error = deadline.IsCancellationRequested ? "no answer within the renew deadline" : e.Message;
                log.LogWarning("Lease {Namespace}/{Lease}: {Error}; trying again in {Delay}", options.Namespace, options.LeaseName, error, options.RetryPeriod);
            }
            outcome = Outcome.Refused;
        }
        switch (outcome)
        {
            case Outcome.Held:
                Set(true);
                break;
            case Outcome.HeldByOther:
                Set(false);
                break;
            default:
                if (leading && time.GetUtcNow() - renewedAt >= options.RenewDeadline)
                    Set(false);
                break;
        }
    }

    private async Task<Outcome> TryAcquireOrRenewAsync(ILock lease, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        LeaderElectionRecord current;
        try
        {
            current = await lease.GetAsync(ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            var first = Record(now, acquired: now, transitions: 0);
            return await lease.CreateAsync(first, ct) ? Took(first, now) : Outcome.Refused;
        }
        Observe(current, now);
        var mine = current.HolderIdentity == options.Identity;
        var lapse = current.LeaseDurationSeconds > 0 ? TimeSpan.FromSeconds(current.LeaseDurationSeconds) : options.LeaseDuration;
        if (!mine && !string.IsNullOrEmpty(current.HolderIdentity) && now < observedAt + lapse)
            return Outcome.HeldByOther;
        var next = mine
            ? Record(now, current.AcquireTime is { } acquired ? new DateTimeOffset(DateTime.SpecifyKind(acquired, DateTimeKind.Utc)) : now, current.LeaderTransitions)
            : Record(now, acquired: now, current.LeaderTransitions + 1);
        return await lease.UpdateAsync(next, ct) ? Took(next, now) : Outcome.Refused;
    }

    private LeaderElectionRecord Record(DateTimeOffset now, DateTimeOffset acquired, int transitions) => new()
    {
        HolderIdentity = options.Identity,
        LeaseDurationSeconds = (int)options.LeaseDuration.TotalSeconds,
        AcquireTime = acquired.UtcDateTime,
        RenewTime = now.UtcDateTime,
        LeaderTransitions = transitions,
    };

    private Outcome Took(LeaderElectionRecord written, DateTimeOffset now)
    {
        Observe(written, now);
        renewedAt = now;
        return Outcome.Held;
    }

    /// <summary>Notes when the Lease last changed (its holder's renewals are what keep it), and logs a new leader.</summary>
    private void Observe(LeaderElectionRecord record, DateTimeOffset now)
    {
        if (observed is null || observed.HolderIdentity != record.HolderIdentity || observed.RenewTime != record.RenewTime
            || observed.LeaderTransitions != record.LeaderTransitions)
        {
            observed = record;
            observedAt = now;
        }
        var leader = record.HolderIdentity ?? "";
        if (leader == reportedLeader)
            return;
        reportedLeader = leader;
        log.LogInformation("Lease {Namespace}/{Lease}: the leader is now {Leader}", options.Namespace, options.LeaseName,
            leader.Length == 0 ? "nobody" : leader);
    }

    private void Set(bool value)
    {
        if (leading == value)
            return;
        leading = value;
        log.LogInformation(value ? "{Identity} is now the leader; it writes status and events" : "{Identity} is no longer the leader",
            options.Identity);
        Changed?.Invoke(value);
    }

    /// <summary>Gives the lease up if this replica still holds it, so a successor need not wait for it to expire.</summary>
    private async Task ReleaseAsync(ILock lease)
    {
        using var timeout = new CancellationTokenSource(ReleaseTimeout);
        try
        {
            var record = await lease.GetAsync(timeout.Token);
            if (record.HolderIdentity != options.Identity)
                return;
            var released = await lease.UpdateAsync(new LeaderElectionRecord
            {
                HolderIdentity = "",
                LeaseDurationSeconds = 1,
                AcquireTime = record.AcquireTime,
                RenewTime = time.GetUtcNow().UtcDateTime,
                LeaderTransitions = record.LeaderTransitions,
            }, timeout.Token);
            log.LogInformation(released ? "Lease {Namespace}/{Lease} released" : "Lease {Namespace}/{Lease} could not be released; it expires on its own",
                options.Namespace, options.LeaseName);
        }
        catch (Exception e)
        {
            log.LogWarning("Lease {Namespace}/{Lease} not released ({Error}); it expires on its own", options.Namespace, options.LeaseName, e.Message);
        }
    }
}
