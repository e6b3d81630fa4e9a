using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Tests;

/// <summary>One line a <see cref="CapturingLogger"/> kept: what a user of the operator would read in its log.</summary>
public readonly record struct LogEntry(LogLevel Level, string Message, Exception? Exception)
{
    /// <summary><c>Warning: message</c>, as tests search the lines of a whole operator.</summary>
    public override string ToString() => $"{Level}: {Message}";
}
