using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests.Dns.Fuzzing;

/// <summary>Keeps every log entry that carries an exception, so a test can see what the server swallowed.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(string Message, Exception Exception)> Exceptions { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is not null)
            Exceptions.Enqueue((formatter(state, exception), exception));
    }
}
