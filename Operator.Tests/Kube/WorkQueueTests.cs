using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

public sealed class WorkQueueTests
{
    private static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token;

    [Test]
    public async Task A_key_added_twice_before_it_is_taken_is_processed_once()
    {
        using var queue = new WorkQueue<string>(new FakeTimeProvider());
        queue.Add("a");
        queue.Add("b");
        queue.Add("a");

        Assert.That(queue.Count, Is.EqualTo(2));
        Assert.That((await queue.TakeAsync(Timeout)).Key, Is.EqualTo("a"));
        Assert.That((await queue.TakeAsync(Timeout)).Key, Is.EqualTo("b"));
        Assert.That(queue.TakeAsync(CancellationToken.None).IsCompleted, Is.False);
    }

    [Test]
    public async Task A_key_is_never_handed_to_two_workers_and_is_processed_again_when_re_added_meanwhile()
    {
        using var queue = new WorkQueue<string>(new FakeTimeProvider());
        queue.Add("a");
        var (_, key) = await queue.TakeAsync(Timeout);

        queue.Add("a");
        queue.Add("a");
        var second = queue.TakeAsync(Timeout);
        Assert.That(second.IsCompleted, Is.False, "a key being processed is not handed out again");

        queue.Done(key);
        Assert.That((await second).Key, Is.EqualTo("a"), "re-added while processing: processed again after Done");
        queue.Done("a");
        Assert.That(queue.Count, Is.Zero, "the two re-adds count once");
    }

    [Test]
    public async Task AddAfter_makes_the_key_available_once_the_delay_has_passed_and_the_earliest_delay_wins()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(time);
        queue.AddAfter("a", TimeSpan.FromSeconds(10));
        queue.AddAfter("a", TimeSpan.FromSeconds(3));
        queue.AddAfter("a", TimeSpan.FromSeconds(20));

        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.That(queue.Count, Is.Zero);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.That(queue.Count, Is.EqualTo(1));
        var (_, key) = await queue.TakeAsync(Timeout);
        queue.Done(key);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.That(queue.Count, Is.Zero, "the later delays were folded into the earliest");
    }

    [Test]
    public async Task An_immediate_add_replaces_a_delayed_one_so_the_key_is_processed_once()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(time);
        queue.AddAfter("status", TimeSpan.FromSeconds(5));
        queue.Add("status");

        var (_, key) = await queue.TakeAsync(Timeout);
        queue.Done(key);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(queue.Count, Is.Zero, "the processing that came first read what the delayed add was for");

        queue.Add("status");
        (_, key) = await queue.TakeAsync(Timeout);
        queue.AddAfter("status", TimeSpan.FromSeconds(5)); // a change while it is processed: it waits its delay
        queue.Done(key);
        Assert.That(queue.Count, Is.Zero);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(queue.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task The_queue_is_busy_while_a_key_is_queued_or_in_hand_but_not_while_one_only_waits_for_its_delay()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(time);
        Assert.That(queue.IsIdle, Is.True);

        queue.Add("a");
        Assert.That(queue.IsIdle, Is.False, "queued");
        var (_, key) = await queue.TakeAsync(Timeout);
        Assert.That(queue.IsIdle, Is.False, "in hand");
        queue.Done(key);
        Assert.That(queue.IsIdle, Is.True, "done");

        queue.AddAfter("b", TimeSpan.FromSeconds(5));
        Assert.That(queue.IsIdle, Is.True, "a delayed key is future work");
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(queue.IsIdle, Is.False, "its delay has passed");
    }

    [Test]
    public async Task Failures_are_retried_after_doubling_delays_up_to_the_cap_until_forgotten()
    {
        var time = new FakeTimeProvider();
        using var queue = new WorkQueue<string>(time, new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8)));
        var delays = new List<double>();
        for (var failure = 0; failure < 5; failure++)
        {
            queue.AddRateLimited("a");
            delays.Add(await SecondsUntilReadyAsync(queue, time));
        }
        Assert.That(delays, Is.EqualTo(new double[] { 1, 2, 4, 8, 8 }));
        Assert.That(queue.Failures("a"), Is.EqualTo(5));

        queue.Forget("a");
        queue.AddRateLimited("a");
        Assert.That(await SecondsUntilReadyAsync(queue, time), Is.EqualTo(1), "Forget starts the backoff over");
    }

    [Test]
    public async Task Shutting_down_hands_out_what_is_queued_then_stops_every_worker()
    {
        using var queue = new WorkQueue<string>(new FakeTimeProvider());
        queue.Add("a");
        queue.ShutDown();
        queue.Add("b");

        Assert.That(await queue.TakeAsync(Timeout), Is.EqualTo((true, "a")));
        var first = queue.TakeAsync(Timeout);
        var second = queue.TakeAsync(Timeout);
        Assert.That((await first).Ok, Is.False);
        Assert.That((await second).Ok, Is.False);
    }

    [TestCase(1, 0, ExpectedResult = 1.0)]
    [TestCase(3, 0, ExpectedResult = 4.0)]
    [TestCase(30, 0, ExpectedResult = 60.0)]
    [TestCase(3, 0.5, ExpectedResult = 5.0)]
    [TestCase(30, 0.999, ExpectedResult = 89.97)]
    public double Backoff_doubles_per_failure_is_capped_and_stretched_by_jitter(int failures, double random) =>
        Math.Round(new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), Jitter: 0.5).Delay(failures, random).TotalSeconds, 2);

    /// <summary>Advances fake time in 0.5 s steps until the key comes out; returns how long that took.</summary>
    private static async Task<double> SecondsUntilReadyAsync(WorkQueue<string> queue, FakeTimeProvider time)
    {
        var waited = 0.0;
        while (queue.Count == 0)
        {
            Assert.That(waited, Is.LessThan(600), "the key never came back");
            time.Advance(TimeSpan.FromSeconds(0.5));
            waited += 0.5;
        }
        var (_, key) = await queue.TakeAsync(Timeout);
        queue.Done(key);
        return waited;
    }
}
