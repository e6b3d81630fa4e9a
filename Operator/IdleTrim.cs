namespace MiniLb.Operator;

/// <summary>
/// Gives the heap a burst of work grew back once the burst is over. A DNS load on the slow path, an EndpointSlice
/// churn or a relist makes the GC grow its heap (the gen0 budget, free regions, garbage promoted before it died);
/// a quiet process makes no further collection, so RSS stays where the burst left it until the next burst. Like Go's
/// scavenger, minilb then hands the free part back: when at least <see cref="AfterAllocating"/> were allocated since
/// the last trim, or the GC's committed memory grew by <see cref="AfterGrowing"/>, and the last look found the process
/// quiet (less than <see cref="QuietBelow"/> per <see cref="Interval"/>), one aggressive, compacting collection returns
/// free regions to the system. While a burst lasts it looks every <see cref="AfterBusy"/>, so the heap is given back a
/// second or two after the burst, not five to ten. The fast DNS path allocates nothing, so a steady fast-path load
/// counts as quiet; the trim then pauses it once, for a collection of the live heap: 52 ms at 10,000 Services (48 MB
/// live; docs/benchmarks.md).
/// </summary>
internal sealed class IdleTrim(TimeProvider? time = null, Func<long>? allocated = null, Func<long>? committed = null, Action? trim = null)
{
    /// <summary>How often the allocation counter is read while quiet: one wake-up per interval, a few microseconds each.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How soon it is read again after a busy look. A burst's end was noticed only at the first whole quiet
    /// <see cref="Interval"/> after it, 5 to 10 s later; RSS right after a load then depended on where the interval
    /// fell (measured: 20.3–22.1 or 24.6–25.8 MiB after the same 1k churn and DNS load, 21.5–22 MiB ten seconds on).
    /// Looking more often costs nothing while quiet and little while the process is busy anyway.
    /// </summary>
    public static readonly TimeSpan AfterBusy = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A burst worth trimming after: several times the 2 MiB gen0 budget. An idle `run` (the Lease renewal every
    /// 5 s, watch bookmarks) allocates about 10 KB a second, so it trims every quarter of an hour or so.
    /// </summary>
    public const long AfterAllocating = 8L << 20;

    /// <summary>
    /// Or a smaller burst after which the GC holds this much more from the system than after the last trim: 100
    /// EndpointSlice changes at 1,000 Services allocated under 8 MiB but grew the committed heap from 8.5 to 14 MB.
    /// Twice the 2 MiB gen0 budget, which idle allocation alone fills again after a trim.
    /// </summary>
    public const long AfterGrowing = 4L << 20;

    /// <summary>
    /// Less than this in one <see cref="Interval"/> (or its share of a shorter look) is quiet: idle `run` allocates
    /// about a fifth of it (9 KB a second).
    /// </summary>
    public const long QuietBelow = 256L << 10;

    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly Func<long> allocated = allocated ?? (() => GC.GetTotalAllocatedBytes(precise: false));
    private readonly Func<long> committed = committed ?? (() => GC.GetGCMemoryInfo().TotalCommittedBytes);
    private readonly Action trim = trim ?? StartupMemory.CollectAggressively;

    /// <summary>The rule: a burst happened since the last trim (it allocated, or the heap grew), and it is over.</summary>
    public static bool ShouldTrim(long allocatedSinceTrim, long grownSinceTrim, long allocatedLastLook, TimeSpan lastLook) =>
        HadBurst(allocatedSinceTrim, grownSinceTrim) && IsQuiet(allocatedLastLook, lastLook);

    private static bool HadBurst(long allocatedSinceTrim, long grownSinceTrim) =>
        allocatedSinceTrim >= AfterAllocating || grownSinceTrim >= AfterGrowing;

    /// <summary>Allocated less than <see cref="QuietBelow"/> per <see cref="Interval"/> over the last look.</summary>
    public static bool IsQuiet(long allocatedLastLook, TimeSpan lastLook) =>
        allocatedLastLook < QuietBelow * lastLook.Ticks / Interval.Ticks;

    public async Task RunAsync(CancellationToken ct)
    {
        var atTrim = allocated();
        var atLastLook = atTrim;
        var committedAtTrim = committed();
        var wait = Interval;
        try
        {
            while (true)
            {
                await Task.Delay(wait, time, ct);
                var now = allocated();
                var quiet = IsQuiet(now - atLastLook, wait);
                if (quiet && HadBurst(now - atTrim, committed() - committedAtTrim))
                {
                    trim();
                    // What the collection itself allocated is not a burst.
                    now = allocated();
                    atTrim = now;
                    committedAtTrim = committed();
                }
                atLastLook = now;
                wait = quiet ? Interval : AfterBusy;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }
}
