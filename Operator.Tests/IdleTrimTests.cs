using MiniLb.Operator.Tests.Kube;

namespace MiniLb.Operator.Tests;

/// <summary>
/// After a burst of work the heap it grew is handed back once the process is quiet again; a busy process is not
/// paused for it, and an idle one is not collected over and over.
/// </summary>
public sealed class IdleTrimTests
{
    private RecordingTimeProvider time = null!;
    private CancellationTokenSource stop = null!;
    private long allocated;
    private long committed;
    private int trims;
    private Task running = Task.CompletedTask;
    private TimeSpan nextLook;

    [SetUp]
    public async Task Start()
    {
        time = new RecordingTimeProvider();
        stop = new CancellationTokenSource();
        allocated = 100L << 20;
        committed = 10L << 20;
        trims = 0;
        var idle = new IdleTrim(time, () => Interlocked.Read(ref allocated), () => Interlocked.Read(ref committed), () =>
        {
            Interlocked.Increment(ref trims);
            Interlocked.Exchange(ref committed, 9L << 20); // the trim gives back
        });
        running = idle.RunAsync(stop.Token);
        nextLook = await NextLookAsync();
        Assert.That(nextLook, Is.EqualTo(IdleTrim.Interval), "quiet at the start");
    }

    private Task<TimeSpan> NextLookAsync() => time.NextTimerAsync(t => t == IdleTrim.Interval || t == IdleTrim.AfterBusy);

    [TearDown]
    public async Task Stop()
    {
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(20));
        stop.Dispose();
    }

    /// <summary>Lets the time to the next look pass with <paramref name="bytes"/> allocated in it; returns the trims so far.</summary>
    private async Task<int> IntervalAsync(long bytes)
    {
        Interlocked.Add(ref allocated, bytes);
        time.Advance(nextLook);
        // The loop reads the counter when its timer fires; its next timer says it has decided.
        nextLook = await NextLookAsync();
        return Volatile.Read(ref trims);
    }

    [Test]
    public async Task A_burst_is_trimmed_once_it_is_over_and_not_while_it_lasts()
    {
        Assert.That(await IntervalAsync(6L << 20), Is.Zero, "still allocating");
        Assert.That(await IntervalAsync(6L << 20), Is.Zero, "still allocating, 12 MiB since the start");
        Assert.That(await IntervalAsync(10L << 10), Is.EqualTo(1), "quiet after 12 MiB");
        Assert.That(await IntervalAsync(10L << 10), Is.EqualTo(1), "nothing new to give back");
        Assert.That(await IntervalAsync(0), Is.EqualTo(1));
    }

    [Test]
    public async Task The_end_of_a_burst_is_noticed_within_a_second_and_quiet_looks_go_back_to_every_five_seconds()
    {
        Assert.That(await IntervalAsync(9L << 20), Is.Zero, "still allocating");
        Assert.That(nextLook, Is.EqualTo(IdleTrim.AfterBusy), "busy: the next look comes sooner");
        Assert.That(await IntervalAsync(100L << 10), Is.Zero, "100 KiB in a second is not quiet yet");
        var before = time.GetUtcNow();
        Assert.That(await IntervalAsync(10L << 10), Is.EqualTo(1), "quiet for a second after the burst");
        Assert.That(time.GetUtcNow() - before, Is.EqualTo(IdleTrim.AfterBusy));
        Assert.That(nextLook, Is.EqualTo(IdleTrim.Interval), "quiet again: one look every five seconds");
    }

    [Test]
    public async Task A_smaller_burst_that_grew_the_heap_is_trimmed_too()
    {
        Interlocked.Add(ref committed, 5L << 20); // the GC took 5 MiB more while 3 MiB were allocated
        Assert.That(await IntervalAsync(3L << 20), Is.Zero, "still allocating");
        Assert.That(await IntervalAsync(10L << 10), Is.EqualTo(1), "quiet, the heap 5 MiB bigger than after the last trim");
        Assert.That(await IntervalAsync(10L << 10), Is.EqualTo(1), "back to its size: nothing to give back");
    }

    [Test]
    public async Task Small_allocations_while_idle_do_not_trigger_a_collection_each_interval()
    {
        for (var i = 0; i < 20; i++)
            Assert.That(await IntervalAsync(50L << 10), Is.Zero, $"interval {i}: 50 KiB per interval is what an idle run allocates");
    }

    [Test]
    public void The_rule_needs_both_a_burst_and_quiet()
    {
        Assert.Multiple(() =>
        {
            Assert.That(IdleTrim.ShouldTrim(IdleTrim.AfterAllocating, 0, 0, IdleTrim.Interval), Is.True);
            Assert.That(IdleTrim.ShouldTrim(0, IdleTrim.AfterGrowing, 0, IdleTrim.Interval), Is.True, "the heap grew");
            Assert.That(IdleTrim.ShouldTrim(IdleTrim.AfterAllocating - 1, IdleTrim.AfterGrowing - 1, 0, IdleTrim.Interval), Is.False, "no burst");
            Assert.That(IdleTrim.ShouldTrim(IdleTrim.AfterAllocating * 4, IdleTrim.AfterGrowing, IdleTrim.QuietBelow, IdleTrim.Interval), Is.False, "not over");
            Assert.That(IdleTrim.ShouldTrim(IdleTrim.AfterAllocating, 0, IdleTrim.QuietBelow / 4, IdleTrim.AfterBusy), Is.False,
                "a quarter of a five-second budget in one second is not quiet");
            Assert.That(IdleTrim.ShouldTrim(IdleTrim.AfterAllocating, 0, IdleTrim.QuietBelow / 6, IdleTrim.AfterBusy), Is.True);
        });
    }
}
