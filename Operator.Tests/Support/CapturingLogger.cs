using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests;

/// <summary>
/// Keeps what was logged, so tests can check what an operator's user would read. One logger for a class
/// (<see cref="CapturingLogger{T}"/>), or every category of a host at once as its <see cref="ILoggerProvider"/>.
/// For long runs (fuzzing) it keeps only what matters: <see cref="Keep"/> picks the entries at all,
/// <see cref="Routine"/> ones are only counted, and at most <see cref="Limit"/> are kept, so a million expected
/// entries do not look like a leak of the server under test.
/// </summary>
public class CapturingLogger : ILogger, ILoggerProvider
{
    private long routineCount;

    /// <summary>Which entries to look at; the others are ignored. All by default.</summary>
    public Func<LogEntry, bool> Keep { get; init; } = _ => true;

    /// <summary>Entries that are expected by the test: counted in <see cref="RoutineCount"/>, not kept.</summary>
    public Func<LogEntry, bool>? Routine { get; init; }

    /// <summary>At most this many entries are kept.</summary>
    public int Limit { get; init; } = int.MaxValue;

    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public IEnumerable<string> Messages => Entries.Select(e => e.Message);

    /// <summary>Every kept entry as <c>Level: message</c>.</summary>
    public IReadOnlyList<string> All => [.. Entries.Select(e => e.ToString())];

    public long RoutineCount => Interlocked.Read(ref routineCount);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var entry = new LogEntry(logLevel, formatter(state, exception), exception);
        if (!Keep(entry))
            return;
        if (Routine?.Invoke(entry) == true)
            Interlocked.Increment(ref routineCount);
        else if (Entries.Count < Limit)
            Entries.Enqueue(entry);
    }

    /// <summary>Every category writes here.</summary>
    public ILogger CreateLogger(string categoryName) => this;

    void IDisposable.Dispose()
    {
    }
}

/// <summary>A <see cref="CapturingLogger"/> handed to a class that asks for <see cref="ILogger{T}"/>.</summary>
public sealed class CapturingLogger<T> : CapturingLogger, ILogger<T>;
