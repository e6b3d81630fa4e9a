namespace MiniLb.Operator.Entities;

/// <summary>The condition types of a MiniLbConfig.</summary>
public static class ConditionTypes
{
    /// <summary>The configuration is in effect (False: the last good one still runs; the reason says why).</summary>
    public const string Ready = "Ready";

    /// <summary>The DNS server listens on spec.listen.</summary>
    public const string DnsServing = "DnsServing";

    /// <summary>status.routes covers every node with a pod CIDR and an InternalIP.</summary>
    public const string RoutesPublished = "RoutesPublished";

    /// <summary>status.dhcpOption121 carries every IPv4 route (False: some did not fit in the option's 255 octets).</summary>
    public const string DhcpOption121Complete = "DhcpOption121Complete";

    /// <summary>Every node with served endpoints answers node liveness probes (Unknown: liveness is off).</summary>
    public const string NodesReachable = "NodesReachable";

    /// <summary>Which configuration is in force: this MiniLbConfig (True) or the command-line flags/defaults (False, while its spec was never applied).</summary>
    public const string ConfigSource = "ConfigSource";
}

/// <summary>Condition list updates with apimachinery's rules (meta.SetStatusCondition).</summary>
public static class Conditions
{
    public static Condition? Find(IEnumerable<Condition>? conditions, string type) =>
        conditions?.FirstOrDefault(c => c.Type == type);

    /// <summary>
    /// The list with <paramref name="condition"/> in place of the one of its type (appended if new). The
    /// lastTransitionTime only moves when the status changes, so an unchanged condition gives an equal list
    /// and no status write.
    /// </summary>
    public static List<Condition> Set(IEnumerable<Condition>? conditions, Condition condition)
    {
        var list = conditions?.ToList() ?? [];
        var index = list.FindIndex(c => c.Type == condition.Type);
        if (index < 0)
        {
            list.Add(condition);
            return list;
        }
        var old = list[index];
        list[index] = old.Status == condition.Status ? condition with { LastTransitionTime = old.LastTransitionTime } : condition;
        return list;
    }
}
