using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
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

    /// <summary>Starts a NOTIFY of <paramref name="zone"/> to every target that has not had this version yet.</summary>
    private void Round(Zone zone, IReadOnlyList<IPEndPoint> targets)
    {
        foreach (var gone in secondaries.Keys.Except(targets).ToList())
        {
            secondaries[gone].Cancel();
            secondaries.Remove(gone);
        }
        foreach (var target in targets)
        {
            if (!secondaries.TryGetValue(target, out var secondary))
                secondaries[target] = secondary = new Secondary(target);
            if (secondary.Serial == zone.Serial && secondary.Apex.Equals(zone.Apex))
                continue;
            secondary.Cancel();
            (secondary.Serial, secondary.Apex) = (zone.Serial, zone.Apex);
            var inFlight = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            secondary.InFlight = inFlight;
            _ = NotifyAsync(secondary, zone, inFlight);
        }
    }

    /// <summary>Sends until answered or out of attempts; owns <paramref name="inFlight"/> and disposes it (its link to stopping goes with it).</summary>
    private async Task NotifyAsync(Secondary secondary, Zone zone, CancellationTokenSource inFlight)
    {
        using var owned = inFlight;
        var ct = inFlight.Token;
        var id = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
        var message = Notify(zone, id);
        var timeout = timing.Timeout;
        try
        {
            for (var attempt = 1; attempt <= timing.Attempts; attempt++, timeout *= 2)
            {
                if (await SendAsync(secondary.Target, message, id, timeout, ct) is { } rcode)
                {
                    Interlocked.Increment(ref acknowledged);
                    Answered(secondary, zone, rcode);
                    return;
                }
            }
            if (!secondary.Silent)
            {
                secondary.Silent = true;
                logger.LogWarning("Secondary {Secondary} did not answer NOTIFY for {Zone} serial {Serial} ({Attempts} tries); it catches up at its next SOA refresh. Logged once until it answers",
                    secondary.Target, zone.Apex, zone.Serial, timing.Attempts);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // A newer version, a removed target, or stopping.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Fire and forget: nothing may escape unobserved; the next version tries again.
            logger.LogError(e, "NOTIFY to {Secondary} for {Zone} serial {Serial} failed", secondary.Target, zone.Apex, zone.Serial);
        }
    }

    private void Answered(Secondary secondary, Zone zone, ReturnCode rcode)
    {
        if (secondary.Silent)
            logger.LogInformation("Secondary {Secondary} answers NOTIFY again", secondary.Target);
        secondary.Silent = false;
        if (rcode != ReturnCode.NoError && secondary.Refusal != rcode)
            logger.LogWarning("Secondary {Secondary} answered NOTIFY for {Zone} with {Rcode}: does its ACL allow NOTIFY from minilb?", secondary.Target, zone.Apex, rcode);
        else
            logger.LogDebug("Secondary {Secondary} acknowledged NOTIFY for {Zone} serial {Serial}", secondary.Target, zone.Apex, zone.Serial);
        secondary.Refusal = rcode == ReturnCode.NoError ? null : rcode;
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

    /// <summary>NOTIFY for the zone's SOA, with the new SOA in the answer section as a hint (RFC 1996 §3.7).</summary>
    private static byte[] Notify(Zone zone, ushort id)
    {
        var message = new DnsMessage { TransactionID = id, OperationCode = OperationCode.Notify, IsAuthoritiveAnswer = true, IsQuery = true };
        message.Questions.Add(new DnsQuestion(zone.Apex, RecordType.Soa, RecordClass.INet));
        message.AnswerRecords.Add(ZoneTransfer.Soa(zone));
        return ZoneTransfer.Encode(message);
    }

    public async ValueTask DisposeAsync()
    {
        zones.Swapped -= OnSwapped;
        transfers.Changed -= Wake;
        await stopping.CancelAsync();
        await running;
        foreach (var secondary in secondaries.Values)
            secondary.Cancel();
        stopping.Dispose();
    }

    /// <summary>What the notifier knows of one secondary; touched only by the notifier's loop and the one NOTIFY in flight.</summary>
    private sealed class Secondary(IPEndPoint target)
    {
        public IPEndPoint Target => target;
        public uint Serial;
        public ARSoft.Tools.Net.DomainName Apex = ARSoft.Tools.Net.DomainName.Root;
        public CancellationTokenSource? InFlight;
        public volatile bool Silent;
        public ReturnCode? Refusal;

        /// <summary>Stops the NOTIFY in flight, if any; it disposes its own token source when it ends.</summary>
        public void Cancel()
        {
            try
            {
                InFlight?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // It had ended already.
            }
            InFlight = null;
        }
    }
}
