namespace MiniLb.Operator;

/// <summary>
/// When start-up's second half is over: after the caches are filled the leader writes every served Service's status
/// and its events, and the watch events of those writes come back. That work ends when the controllers have nothing
/// queued or in hand and no zone was published for <see cref="Quiet"/> (looked at every <see cref="Look"/>, for at
/// most <see cref="AtMost"/>). A fixed quiet time alone was either long (3 s: its page-out and the collection's
/// re-reads fell into the first idle minute) or wrong (1 s: the release came before the status writes were done,
/// which then grew the heap again). A key waiting for a delay (a retry, a deferred status write) is future work,
/// not start-up's, so it does not hold the release back.
/// </summary>
internal sealed class StartupSettle(Func<bool> busy, TimeProvider? time = null)
{
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Look = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan AtMost = TimeSpan.FromMinutes(2);

    private readonly TimeProvider time = time ?? TimeProvider.System;
    private long quietSince = (time ?? TimeProvider.System).GetTimestamp();

    /// <summary>A zone was published: start-up's work is still coming in.</summary>
    public void Published() => Volatile.Write(ref quietSince, time.GetTimestamp());

    /// <summary>Returns once start-up's work is done (or <see cref="AtMost"/> has passed).</summary>
    public async Task WaitAsync(CancellationToken ct)
    {
        var started = time.GetTimestamp();
        while (time.GetElapsedTime(started) < AtMost)
        {
            if (busy())
                Volatile.Write(ref quietSince, time.GetTimestamp());
            else if (time.GetElapsedTime(Volatile.Read(ref quietSince)) >= Quiet)
                return;
            await Task.Delay(Look, time, ct);
        }
    }
}
