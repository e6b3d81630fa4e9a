using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Transfer;

/// <summary>How NOTIFY is paced and retried.</summary>
/// <param name="Interval">At most one round of NOTIFYs this often: the changes of a rollout make one, not hundreds.</param>
/// <param name="Timeout">Wait for the first answer; doubled for each retry.</param>
/// <param name="Attempts">Sends before a secondary counts as not answering (logged once).</param>
public sealed record NotifyTiming(TimeSpan Interval, TimeSpan Timeout, int Attempts)
{
    /// <summary>1 s apart; 1+2+4+8+16 s of waiting before giving up on a version.</summary>
    public static NotifyTiming Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 5);
}

/// <summary>
/// Tells the configured secondaries that the zone changed (DNS NOTIFY over UDP, RFC 1996), so they transfer it
/// now rather than at the SOA refresh. Coalesced: a round at most every <see cref="NotifyTiming.Interval"/>, always
/// for the newest version. Each secondary is retried with a growing timeout until it answers (§3.6); a newer
/// version replaces a retry in flight. A secondary that never answers is logged once, until it answers again.
/// </summary>
public sealed class TransferNotifier : IAsyncDisposable
{
    private readonly ZoneHolder zones;
    private readonly ZoneTransfers transfers;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly NotifyTiming timing;
    private readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource stopping = new();
    private readonly Dictionary<IPEndPoint, Secondary> secondaries = [];
    private readonly Task running;

    public TransferNotifier(ZoneHolder zones, ZoneTransfers transfers, ILogger logger, TimeProvider? time = null, NotifyTiming? timing = null)
    {
        (this.zones, this.transfers, this.logger) = (zones, transfers, logger);
        this.time = time ?? TimeProvider.System;
        this.timing = timing ?? NotifyTiming.Default;
        zones.Swapped += OnSwapped;
        transfers.Changed += Wake;
        wake.Writer.TryWrite(true); // a restarted minilb has a newer serial (time-based): tell the secondaries at once
        running = RunAsync(stopping.Token);
    }

    /// <summary>NOTIFYs a secondary answered, over the notifier's life (for tests and the log).</summary>
    public int Acknowledged => Volatile.Read(ref acknowledged);

    private int acknowledged;

    private void OnSwapped(Zone zone) => Wake();

    private void Wake() => wake.Writer.TryWrite(true);

    private async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (await wake.Reader.WaitToReadAsync(ct))
            {
                wake.Reader.TryRead(out _);
                Round(zones.Current, transfers.Settings.Notify);
                await Task.Delay(timing.Interval, time, ct); // what changes meanwhile waits in the channel: one more round
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Starts a NOTIFY to every target for each zone of <paramref name="zone"/> it has not had this version of: the
    /// forward zone, and each reverse zone whose PTRs changed since the version last sent for it (a new pod's
    /// address changes one reverse zone, not all of them).
    /// </summary>
    private void Round(Zone zone, IReadOnlyList<IPEndPoint> targets)
    {
        foreach (var gone in secondaries.Keys.Except(targets).ToList())
        {
            secondaries[gone].CancelAll();
            secondaries.Remove(gone);
        }
        foreach (var target in targets)
        {
            if (!secondaries.TryGetValue(target, out var secondary))
                secondaries[target] = secondary = new Secondary(target);
            secondary.Forget(apex => ZoneTransfer.Holds(zone, apex));
            Notify(secondary, zone, zone.Apex);
            foreach (var apex in zone.Reverse.Apexes.Keys)
                Notify(secondary, zone, apex);
        }
    }

    private void Notify(Secondary secondary, Zone zone, DomainName apex)
    {
        var sent = secondary.Sent.GetValueOrDefault(apex);
        if (sent is not null && sent.Serial == zone.Serial)
            return;
        if (sent is not null && !apex.Equals(zone.Apex) && SamePointers(sent.Reverse, zone.Reverse, apex))
        {
            // Nothing to tell; compared against this version from now on, so the PTRs are walked once per version.
            secondary.Sent[apex] = sent with { Serial = zone.Serial, Reverse = zone.Reverse };
            return;
        }
        sent?.Cancel();
        var inFlight = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        secondary.Sent[apex] = new SentVersion(zone.Serial, zone.Reverse, inFlight);
        _ = NotifyAsync(secondary, zone, apex, inFlight);
    }

    /// <summary>The reverse zone at <paramref name="apex"/> holds the same PTRs in both versions (the same object when nothing reverse changed).</summary>
    private static bool SamePointers(ReverseZones before, ReverseZones after, DomainName apex)
    {
        if (ReferenceEquals(before, after))
            return true;
        var (a, b) = (ZoneTransfer.Pointers(before, apex), ZoneTransfer.Pointers(after, apex));
        if (a.Count != b.Count)
            return false;
        for (var i = 0; i < a.Count; i++)
        {
            if (!a[i].Owner.Equals(b[i].Owner) || !a[i].Targets.SequenceEqual(b[i].Targets))
                return false;
        }
        return true;
    }

    /// <summary>Sends until answered or out of attempts; owns <paramref name="inFlight"/> and disposes it (its link to stopping goes with it).</summary>
    private async Task NotifyAsync(Secondary secondary, Zone zone, DomainName apex, CancellationTokenSource inFlight)
    {
        using var owned = inFlight;
        var ct = inFlight.Token;
        var id = MessageIds.Next(); // matched against the answer: not guessable off-path (RFC 5452 §9.2)
        var message = Notify(zone, apex, id);
        var timeout = timing.Timeout;
        try
        {
            for (var attempt = 1; attempt <= timing.Attempts; attempt++, timeout *= 2)
            {
                if (await SendAsync(secondary.Target, message, id, timeout, ct) is { } rcode)
                {
                    Interlocked.Increment(ref acknowledged);
                    Answered(secondary, zone, apex, rcode);
                    return;
                }
            }
            if (secondary.Silent.TryAdd(apex, true))
            {
                logger.LogWarning("Secondary {Secondary} did not answer NOTIFY for {Zone} serial {Serial} ({Attempts} tries); it catches up at its next SOA refresh. Logged once until it answers",
                    secondary.Target, apex, zone.Serial, timing.Attempts);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // A newer version, a removed target, or stopping.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Fire and forget: nothing may escape unobserved; the next version tries again.
            logger.LogError(e, "NOTIFY to {Secondary} for {Zone} serial {Serial} failed", secondary.Target, apex, zone.Serial);
        }
    }

    private void Answered(Secondary secondary, Zone zone, DomainName apex, ReturnCode rcode)
    {
        // Per zone, as the refusals below: a secondary holding the forward zone only may ignore every reverse NOTIFY.
        if (secondary.Silent.TryRemove(apex, out _))
            logger.LogInformation("Secondary {Secondary} answers NOTIFY again for {Zone}", secondary.Target, apex);
        // A router holding the forward zone only refuses every reverse NOTIFY (NOTAUTH): said once per zone.
        var before = secondary.Refusals.GetValueOrDefault(apex);
        if (rcode != ReturnCode.NoError && before != rcode)
            logger.LogWarning("Secondary {Secondary} answered NOTIFY for {Zone} with {Rcode}: does it hold that zone, and does its ACL allow NOTIFY from minilb?", secondary.Target, apex, rcode);
        else
            logger.LogDebug("Secondary {Secondary} acknowledged NOTIFY for {Zone} serial {Serial}", secondary.Target, apex, zone.Serial);
        if (rcode == ReturnCode.NoError)
            secondary.Refusals.TryRemove(apex, out _);
        else
            secondary.Refusals[apex] = rcode;
    }

    /// <summary>One NOTIFY and its answer: the answer's RCODE, or null when none came in time.</summary>
    private async Task<ReturnCode?> SendAsync(IPEndPoint target, byte[] message, ushort id, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout); // on TimeProvider.System: a test's fake clock drives the pacing, not the socket wait
        using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        var buffer = new byte[512];
        try
        {
            await socket.ConnectAsync(target, deadline.Token);
            await socket.SendAsync(message, SocketFlags.None, deadline.Token);
            while (true)
            {
                var length = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                // Our ID, QR=1, opcode NOTIFY (RFC 1996 §4.7): anything else is not the answer.
                if (length >= 12 && BinaryPrimitives.ReadUInt16BigEndian(buffer) == id && (buffer[2] & 0x80) != 0 && ((buffer[2] >> 3) & 0x0F) == (int)OperationCode.Notify)
                    return (ReturnCode)(buffer[3] & 0x0F);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
        catch (SocketException)
        {
            // Port unreachable (nothing listens yet): wait out the attempt, so retries keep their pace.
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, deadline.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            return null;
        }
    }

    /// <summary>NOTIFY for the SOA at <paramref name="apex"/>, with the new SOA in the answer section as a hint (RFC 1996 §3.7).</summary>
    private static byte[] Notify(Zone zone, DomainName apex, ushort id)
    {
        var message = new DnsMessage { TransactionID = id, OperationCode = OperationCode.Notify, IsAuthoritiveAnswer = true, IsQuery = true };
        message.Questions.Add(new DnsQuestion(apex, RecordType.Soa, RecordClass.INet));
        message.AnswerRecords.Add(ZoneTransfer.Soa(zone, apex));
        return ZoneTransfer.Encode(message);
    }

    public async ValueTask DisposeAsync()
    {
        zones.Swapped -= OnSwapped;
        transfers.Changed -= Wake;
        await stopping.CancelAsync();
        await running;
        foreach (var secondary in secondaries.Values)
            secondary.CancelAll();
        stopping.Dispose();
    }

    /// <summary>What the notifier knows of one secondary; touched only by the notifier's loop and the NOTIFYs in flight.</summary>
    private sealed class Secondary(IPEndPoint target)
    {
        public IPEndPoint Target => target;

        /// <summary>Per zone apex, the version last notified (loop only).</summary>
        public readonly Dictionary<DomainName, SentVersion> Sent = [];
        /// <summary>The zones whose NOTIFY the secondary did not answer, logged once until it does (written by the NOTIFYs in flight).</summary>
        public readonly ConcurrentDictionary<DomainName, bool> Silent = new();

        /// <summary>Per zone apex, the error the secondary last answered NOTIFY with (written by the NOTIFYs in flight).</summary>
        public readonly ConcurrentDictionary<DomainName, ReturnCode> Refusals = new();

        /// <summary>Drops the zones a version no longer has (a node and its reverse zone left), stopping their NOTIFY.</summary>
        public void Forget(Func<DomainName, bool> held)
        {
            foreach (var apex in Sent.Keys.Where(a => !held(a)).ToList())
            {
                Sent[apex].Cancel();
                Sent.Remove(apex);
                Refusals.TryRemove(apex, out _);
                Silent.TryRemove(apex, out _);
            }
        }

        public void CancelAll()
        {
            foreach (var sent in Sent.Values)
                sent.Cancel();
        }
    }

    /// <summary>One zone's version sent to a secondary, and its NOTIFY while in flight.</summary>
    private sealed record SentVersion(uint Serial, ReverseZones Reverse, CancellationTokenSource InFlight)
    {
        /// <summary>Stops the NOTIFY in flight, if any; it disposes its own token source when it ends.</summary>
        public void Cancel()
        {
            try
            {
                InFlight.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // It had ended already.
            }
        }
    }
}
