using System.Net;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
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
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the leader renews (a PUT of the Lease; see HeldLeaseLock) and a follower reads it. 5 s rather than
    /// client-go's 2 s: the renewals were a tenth of minilb's idle CPU, and leadership only decides who writes status
    /// and events (every replica answers DNS), so a successor taking over within LeaseDuration + 5 s instead of + 2 s
    /// costs nothing a client sees. Two renewals still fit in the RenewDeadline.
    /// </summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(5);

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
/// Leader election over a coordination.k8s.io Lease with KubernetesClient's <see cref="LeaderElector"/>. The library
/// does not give the lease back when stopped, so a successor would wait out the whole lease; <see cref="RunAsync"/>
/// releases it on a clean shutdown the way client-go does (empty holder, one-second duration).
/// The elector keeps its own clock (DateTime.UtcNow), so this class cannot take a TimeProvider.
/// </summary>
[EntityRbac(typeof(V1Lease), RbacVerb.Get | RbacVerb.Create | RbacVerb.Update, Scope = RbacScope.OperatorNamespace)]
public sealed class LeaseLeadership(IKubernetes client, LeaseLeadershipOptions options, ILogger<LeaseLeadership> log) : ILeadership
{
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);
    private readonly CancellationTokenSource resignation = new();
    private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool leading;
    private volatile bool started;

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
        var lease = new HeldLeaseLock(new LeaseLock(client, options.Namespace, options.LeaseName, options.Identity));
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await ElectAsync(lease, ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    // The elector gives up on the first failed call (an API outage, say); a replica must keep competing.
                    Set(false);
                    if (Access?.Observe(e) != true)
                        log.LogWarning("Lease {Namespace}/{Lease}: {Error}; trying again in {Delay}", options.Namespace, options.LeaseName, e.Message, options.RetryPeriod);
                    await Task.Delay(options.RetryPeriod, ct);
                }
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

    private async Task ElectAsync(ILock lease, CancellationToken ct)
    {
        using var elector = new LeaderElector(new LeaderElectionConfig(lease)
        {
            LeaseDuration = options.LeaseDuration,
            RenewDeadline = options.RenewDeadline,
            RetryPeriod = options.RetryPeriod,
        });
        elector.OnStartedLeading += () => Set(true);
        elector.OnStoppedLeading += () => Set(false);
        elector.OnNewLeader += leader => log.LogInformation("Lease {Namespace}/{Lease}: the leader is now {Leader}",
            options.Namespace, options.LeaseName, string.IsNullOrEmpty(leader) ? "nobody" : leader);
        elector.OnError += e =>
        {
            if (Access?.Observe(e) != true)
                log.LogWarning("Lease {Namespace}/{Lease}: {Error}", options.Namespace, options.LeaseName, e.Message);
        };
        await elector.RunAndTryToHoldLeadershipForeverAsync(ct);
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
                RenewTime = DateTime.UtcNow,
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

/// <summary>
/// A lease lock that renews the lease it holds with one request instead of two. KubernetesClient's
/// <see cref="LeaderElector"/> reads the Lease before every renewal; while this replica holds it and its last write
/// succeeded, that read can only return what it wrote, so the record it wrote is answered instead (client-go's
/// elector takes the same fast path). The write still carries the resourceVersion of the last write: if anyone else
/// changed the Lease meanwhile, the API server refuses it (409 Conflict), the renewal fails and the next one reads the
/// Lease again. The leader's idle cost was a GET and a PUT every 5 s, the largest part of minilb's idle CPU.
/// </summary>
internal sealed class HeldLeaseLock(ILock lease) : ILock
{
    private LeaderElectionRecord? written;

    public string Identity => lease.Identity;

    public string Describe() => lease.Describe();

    public async Task<LeaderElectionRecord> GetAsync(CancellationToken cancellationToken = default) =>
        Volatile.Read(ref written) ?? await lease.GetAsync(cancellationToken);

    public Task<bool> CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default) =>
        WriteAsync(record, lease.CreateAsync, cancellationToken);

    public Task<bool> UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default) =>
        WriteAsync(record, lease.UpdateAsync, cancellationToken);

    private async Task<bool> WriteAsync(LeaderElectionRecord record, Func<LeaderElectionRecord, CancellationToken, Task<bool>> write,
        CancellationToken ct)
    {
        // Until the write is known to have landed, the Lease is whatever the server says.
        Volatile.Write(ref written, null);
        var landed = await write(record, ct);
        if (landed && record.HolderIdentity == lease.Identity)
            Volatile.Write(ref written, record);
        return landed;
    }
}
