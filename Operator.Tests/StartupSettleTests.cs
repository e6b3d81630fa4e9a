using MiniLb.Operator.Tests.Kube;

namespace MiniLb.Operator.Tests;

/// <summary>
/// Start-up's memory is given back once its second half (the leader's first status writes and what they bring back) is
/// over: not while a controller still has work in hand, not while zones are still being published, and not later
/// than need be.
/// </summary>
public sealed class StartupSettleTests
{
    private RecordingTimeProvider time = null!;
    private bool busy;

    [SetUp]
    public void Start()
    {
        time = new RecordingTimeProvider();
        busy = false;
    }

    private async Task<Task> StartAsync(StartupSettle settle)
    {
        var waiting = settle.WaitAsync(CancellationToken.None);
        await time.NextTimerAsync(t => t == StartupSettle.Look);
        return waiting;
    }

    /// <summary>Lets <paramref name="looks"/> looks pass; asserts start-up is not over after any of them.</summary>
    private async Task StillSettlingAfterAsync(Task waiting, int looks, string why)
    {
        for (var i = 0; i < looks; i++)
        {
            time.Advance(StartupSettle.Look);
            await time.NextTimerAsync(t => t == StartupSettle.Look);
            Assert.That(waiting.IsCompleted, Is.False, why);
        }
    }

    private async Task OverAfterOneMoreLookAsync(Task waiting)
    {
        time.Advance(StartupSettle.Look);
        await waiting.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Test]
    public async Task It_is_over_once_the_controllers_are_idle_and_no_zone_was_published_for_a_second()
    {
        busy = true;
        var settle = new StartupSettle(() => Volatile.Read(ref busy), time);
        var waiting = await StartAsync(settle);

        await StillSettlingAfterAsync(waiting, 12, "the leader is still writing statuses");
        Volatile.Write(ref busy, false);
        await StillSettlingAfterAsync(waiting, 3, "idle for less than a second");
        settle.Published();
        await StillSettlingAfterAsync(waiting, 3, "a zone was published less than a second ago");
        await OverAfterOneMoreLookAsync(waiting);
        Assert.That(time.GetUtcNow() - time.Start, Is.EqualTo(TimeSpan.FromSeconds(4.75)),
            "a second after the last publish, which came 0.75 s after the controllers' last work");
    }

    [Test]
    public async Task Without_any_work_it_is_over_after_one_quiet_second()
    {
        var waiting = await StartAsync(new StartupSettle(() => Volatile.Read(ref busy), time));

        await StillSettlingAfterAsync(waiting, 3, "not yet a second");
        await OverAfterOneMoreLookAsync(waiting);
    }

    [Test]
    public async Task A_start_up_that_never_quiets_down_is_given_up_on_after_two_minutes()
    {
        busy = true;
        var waiting = await StartAsync(new StartupSettle(() => Volatile.Read(ref busy), time));
        var looks = (int)(StartupSettle.AtMost / StartupSettle.Look);

        await StillSettlingAfterAsync(waiting, looks - 1, "a controller retrying for ever still has work in hand");
        await OverAfterOneMoreLookAsync(waiting);
    }
}
