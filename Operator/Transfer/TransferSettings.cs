using System.Diagnostics.CodeAnalysis;
using System.Net;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Transfer;

/// <summary>Zone transfer as configured in <c>spec.transfer</c> (or the <c>serve</c> flags): who may transfer, whom to NOTIFY.</summary>
public sealed record TransferSettings
{
    public static TransferSettings None { get; } = new();

    /// <summary>Clients allowed to transfer; empty: every transfer is refused (REFUSED, as without this feature).</summary>
    public IReadOnlyList<IPNetwork> AllowFrom { get; init; } = [];

    /// <summary>Secondaries told about every new zone version.</summary>
    public IReadOnlyList<IPEndPoint> Notify { get; init; } = [];

    public bool Enabled => AllowFrom.Count > 0;

    /// <summary>IPv4 clients seen through a dual-stack socket (::ffff:a.b.c.d) match IPv4 CIDRs.</summary>
    public bool Allows(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
            client = client.MapToIPv4();
        foreach (var network in AllowFrom)
        {
            if (network.Contains(client))
                return true;
        }
        return false;
    }

    /// <summary>The spec as settings, or the field that cannot work: <c>spec.transfer.allowFrom[1]</c>, <c>spec.transfer.notify</c>.</summary>
    public static bool TryRead(TransferSpec? spec, out TransferSettings settings, [NotNullWhen(false)] out SpecProblem? problem)
    {
        settings = None;
        problem = null;
        if (spec is null)
            return true;
        foreach (var (key, list) in new[] { ("allowFrom", spec.AllowFrom), ("notify", spec.Notify) })
        {
            if (list is { Count: > TransferSpec.MaxEntries })
            {
                problem = new($"{Field}.{key}", $"at most {TransferSpec.MaxEntries} entries, not {list.Count}");
                return false;
            }
        }
        var allow = new List<IPNetwork>();
        var notify = new List<IPEndPoint>();
        foreach (var (entry, i) in (spec.AllowFrom ?? []).Select((e, i) => (e, i)))
        {
            if (!IPNetwork.TryParse(entry?.Trim() ?? "", out var network))
            {
                problem = new($"{Field}.allowFrom[{i}]", $"'{entry}' is not a CIDR such as 192.168.1.1/32 or fd00::/64");
                return false;
            }
            allow.Add(network);
        }
        foreach (var (entry, i) in (spec.Notify ?? []).Select((e, i) => (e, i)))
        {
            var text = entry?.Trim() ?? "";
            // IPEndPoint.TryParse accepts a bare address (port 0); a secondary needs its port said.
            if (!IPEndPoint.TryParse(text, out var endPoint) || endPoint.Port == 0 || !HasPort(text))
            {
                problem = new($"{Field}.notify[{i}]", $"'{entry}' is not 'ip:port' or '[ipv6]:port' with a port from 1 to 65535, such as 192.168.1.1:53");
                return false;
            }
            notify.Add(endPoint);
        }
        settings = new TransferSettings { AllowFrom = allow, Notify = notify };
        return true;
    }

    private const string Field = "spec.transfer";

    private static bool HasPort(string text) =>
        text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Count(c => c == ':') == 1;

    /// <summary>For the log.</summary>
    public string Describe() => Enabled
        ? $"transfers allowed from {string.Join(", ", AllowFrom)}; NOTIFY to {(Notify.Count == 0 ? "nobody" : string.Join(", ", Notify))}"
        : "zone transfers refused";

    /// <summary>Same content (the record's own equality compares the lists by reference).</summary>
    public bool SameAs(TransferSettings other) =>
        AllowFrom.SequenceEqual(other.AllowFrom) && Notify.SequenceEqual(other.Notify);
}
