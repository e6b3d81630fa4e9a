namespace MiniLb.Operator.Dns;

/// <summary>
/// Queries taken in and not yet answered, with a ceiling. Over it new queries are shed at once: under overload a
/// drop now is better than an answer after a backlog of seconds, which the client has long given up on.
/// </summary>
internal sealed class InFlightLimit(int capacity)
{
    private int current;
    private long shed;

    /// <summary>Queries shed so far.</summary>
    public long Shed => Interlocked.Read(ref shed);

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref current) <= capacity)
            return true;
        Interlocked.Decrement(ref current);
        Interlocked.Increment(ref shed);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref current);
}
