using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests.Dns.Fuzzing;

/// <summary>
/// Keeps the log entries that carry an unexpected exception, so a test can see what the server swallowed; expected
/// ones are only counted (keeping a million of them would look like a leak of the server).
/// </summary>
internal sealed class RecordingLogger<T>(Func<string, Exception, bool> expected) : ILogger<T>
{
    private long expectedCount;

    public ConcurrentQueue<(string Message, Exception Exception)> Unexpected { get; } = new();

    public long Expected => Interlocked.Read(ref expectedCount);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is null)
            return;
        var message = formatter(state, exception);
        if (expected(message, exception))
            Interlocked.Increment(ref expectedCount);
        else if (Unexpected.Count < 100)
            Unexpected.Enqueue((message, exception));
    }
}
