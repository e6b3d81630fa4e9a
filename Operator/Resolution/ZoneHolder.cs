namespace MiniLb.Operator.Resolution;

/// <summary>
/// The current <see cref="Zone"/>. One writer swaps in a new immutable zone; DNS readers take
/// <see cref="Current"/> once per query without a lock.
/// </summary>
public sealed class ZoneHolder(Zone initial)
{
    private Zone current = initial;

    public Zone Current => Volatile.Read(ref current);

    /// <summary>Raised after every <see cref="Swap"/>, on the writer's thread: handlers only take note (zone transfer NOTIFY).</summary>
    public event Action<Zone>? Swapped;

    public void Swap(Zone zone)
    {
        Volatile.Write(ref current, zone);
        Swapped?.Invoke(zone);
    }
}
