namespace MiniLb.Operator.Entities;

/// <summary>
/// A MiniLbConfig spec field that cannot work, and why: <c>Field</c> <c>spec.forwarding.upstreams[1]</c>, <c>Message</c>
/// <c>'router.lan' is not an IP address[:port] …</c>. The status shows it as it is; the command line names the flag
/// that set the field instead, so neither rewrites the other's text.
/// </summary>
public sealed record SpecProblem(string Field, string Message)
{
    /// <summary>"spec.ttl: 0 must be 1–3600 seconds", as the status, the log and /readyz show it.</summary>
    public override string ToString() => $"{Field}: {Message}";

    /// <summary>Whether the problem is about <paramref name="field"/> or a part of it (an item, a nested field).</summary>
    public bool IsWithin(string field) =>
        Field == field || Field.StartsWith(field + ".", StringComparison.Ordinal) || Field.StartsWith(field + "[", StringComparison.Ordinal);
}
