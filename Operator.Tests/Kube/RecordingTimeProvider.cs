using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>A FakeTimeProvider that tells the test about every timer started, so it can advance exactly when code waits.</summary>
public sealed class RecordingTimeProvider : FakeTimeProvider
{
    private readonly Channel<TimeSpan> timers = Channel.CreateUnbounded<TimeSpan>();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        timers.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>Waits for the next timer whose due time passes <paramref name="filter"/> (all by default).</summary>
    public async Task<TimeSpan> NextTimerAsync(Func<TimeSpan, bool>? filter = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                var due = await timers.Reader.ReadAsync(cts.Token);
                if (filter?.Invoke(due) ?? true)
                    return due;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the code under test started no (matching) timer");
        }
    }
}
