using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Cli;

/// <summary>
/// The flags of `minilb run` and `minilb serve` that set MiniLbConfig fields, one row each. For `run` they configure
/// minilb while no MiniLbConfig exists (the original minilb's flags-only start, no CRD needed); a MiniLbConfig, once
/// there, wins as a whole. Values are checked by the rules that check a spec (<see cref="LiveConfig.TryRead"/>), and a
/// problem names the flag that set its field.
/// </summary>
public static class SpecFlags
{
    /// <summary>A flag, the spec field it sets (as <see cref="SpecProblem.Field"/> names it: `spec.x.y`), and how it sets it.</summary>
    public sealed record Row(Option Option, string Field, Action<MiniLbConfigSpec, ParseResult> Set)
    {
        /// <summary>Repeatable or a comma list: a problem is about one item, which its message quotes.</summary>
        public bool IsList => Option.ValueType.IsArray;
    }

    private static Row Of<T>(Option<T> option, string field, Action<MiniLbConfigSpec, T> set) =>
        new(option, field, (spec, parse) => set(spec, parse.GetValue(option)!));

    private const string Overridden = " A MiniLbConfig, when one exists, overrides this.";

    /// <summary>The rows of `run`. New options every call: System.CommandLine ties an option to one command.</summary>
    public static IReadOnlyList<Row> Create() =>
    [
        Of(new Option<string>("--domain") { Description = "DNS zone minilb is authoritative for (spec.domain)." + Overridden, HelpName = "ZONE",
            DefaultValueFactory = _ => MiniLbConfigSpec.DefaultDomain }, "spec.domain", (spec, value) => spec.Domain = value),
        Of(new Option<int>("--ttl") { Description = "TTL of every answer in seconds, 1–3600 (spec.ttl)." + Overridden, HelpName = "SECONDS",
            DefaultValueFactory = _ => MiniLbConfigSpec.DefaultTtl }, "spec.ttl", (spec, value) => spec.Ttl = value),
        Of(new Option<string>("--listen") { Description = "DNS address, host:port, [IPv6]:port or :port (spec.listen)." + Overridden, HelpName = "ADDRESS",
            DefaultValueFactory = _ => MiniLbConfigSpec.DefaultListen }, "spec.listen", (spec, value) => spec.Listen = value),
        Of(new Option<string>("--load-balancer-class") { Description = "The loadBalancerClass of the Services to serve (spec.loadBalancerClass)." + Overridden,
            HelpName = "CLASS", DefaultValueFactory = _ => MiniLbConfigSpec.DefaultLoadBalancerClass }, "spec.loadBalancerClass", (spec, value) => spec.LoadBalancerClass = value),
        Upstreams(),
    ];

    /// <summary>The rows of `serve`: the same fields and rules as `run`, with serve's own defaults (loopback, port 5353) and forwarding and transfer flags.</summary>
    public static IReadOnlyList<Row> ForServe() =>
    [
        Of(new Option<string>("--domain") { Description = "The DNS zone minilb is authoritative for.", DefaultValueFactory = _ => ZoneSettings.DefaultDomain },
            "spec.domain", (spec, value) => spec.Domain = value),
        Of(new Option<int>("--ttl") { Description = "TTL of answers in seconds, 1–3600 (also the negative-cache TTL).", DefaultValueFactory = _ => ZoneSettings.DefaultTtl },
            "spec.ttl", (spec, value) => spec.Ttl = value),
        Of(new Option<string>("--listen") { Description = "host:port, [IPv6]:port, or :port for all addresses of both families.", DefaultValueFactory = _ => "127.0.0.1:5353" },
            "spec.listen", (spec, value) => spec.Listen = value),
        Of(new Option<string>("--load-balancer-class") { Description = "spec.loadBalancerClass of the Services to serve.", DefaultValueFactory = _ => ZoneSettings.DefaultLoadBalancerClass },
            "spec.loadBalancerClass", (spec, value) => spec.LoadBalancerClass = value),
        Upstreams(),
        Of(new Option<string[]>("--forward-allow")
        {
            Description = "Clients (CIDR or address; repeatable, or a comma list) whose queries --upstream forwards. Default: loopback, RFC 1918, RFC 4193 and link-local.",
            HelpName = "CIDR",
        }, "spec.forwarding.allowFrom", (spec, value) => (spec.Forwarding ??= new()).AllowFrom = Items(value) is { Length: > 0 } items ? [.. items] : null),
        Of(new Option<int>("--forward-timeout")
        {
            Description = "Milliseconds to wait for one upstream before the next (100-30000); SERVFAIL when all fail.",
            DefaultValueFactory = _ => ForwardingSpec.DefaultTimeoutMilliseconds,
        }, "spec.forwarding.timeoutMilliseconds", (spec, value) => (spec.Forwarding ??= new()).TimeoutMilliseconds = value),
        Of(new Option<string[]>("--transfer-allow-from") { Description = "CIDR allowed to transfer the zone (AXFR/IXFR over TCP); repeat for more. None: transfers are refused." },
            "spec.transfer.allowFrom", (spec, value) => (spec.Transfer ??= new()).AllowFrom = [.. value ?? []]),
        Of(new Option<string[]>("--notify") { Description = "Secondary (ip:port) sent a DNS NOTIFY when serving starts; repeat for more." },
            "spec.transfer.notify", (spec, value) => (spec.Transfer ??= new()).Notify = [.. value ?? []]),
    ];

    private static Row Upstreams() => Of(new Option<string[]>("--upstream")
    {
        Description = "Resolver (ip, ip:port or [ipv6]:port; repeatable, or a comma list, tried in order) that answers names outside the zone for allowed clients. Default: none, such names are refused.",
        HelpName = "IP[:PORT]",
    }, "spec.forwarding.upstreams", (spec, value) => (spec.Forwarding ??= new()).Upstreams = [.. Items(value)]);

    /// <summary>Each flag value split at commas, blanks dropped.</summary>
    private static string[] Items(IEnumerable<string>? values) =>
        [.. (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];

    /// <summary>
    /// The spec the flags describe (their defaults, else the CRD's, for flags not given), read by the spec's rules,
    /// and which flags were given; false with a problem naming the flag, e.g. `--ttl 0: must be 1–3600 seconds`.
    /// </summary>
    public static bool TryRead(IReadOnlyList<Row> rows, ParseResult parse, out MiniLbConfigSpec spec, [NotNullWhen(true)] out SpecSettings? settings,
        out IReadOnlyList<GivenFlag> given, out string problem)
    {
        spec = new MiniLbConfigSpec();
        var flags = new List<GivenFlag>();
        foreach (var row in rows)
        {
            // Implicit: not given, but the flag has a default (which for `run` is the CRD's own).
            if (parse.GetResult(row.Option) is not { } result)
                continue;
            row.Set(spec, parse);
            if (!result.Implicit)
                flags.Add(new GivenFlag(row.Option.Name, Quote(string.Join(" ", result.Tokens.Select(t => t.Value))), row.Field));
        }
        given = flags;
        if (LiveConfig.TryRead(spec, out settings, out var specProblem))
        {
            problem = "";
            return true;
        }
        problem = ForFlag(specProblem, rows, flags);
        return false;
    }

    /// <summary>
    /// The problem named by the flag that set its field: `--ttl 0: must be …` (the value shown once), or for a list
    /// flag `--upstream: 'x' is not …` (the message quotes the item); as the spec names it when no flag set the field.
    /// </summary>
    internal static string ForFlag(SpecProblem problem, IReadOnlyList<Row> rows, IReadOnlyList<GivenFlag> given)
    {
        if (rows.FirstOrDefault(r => problem.IsWithin(r.Field)) is not { } row)
            return problem.ToString();
        if (row.IsList)
            return $"{row.Option.Name}: {problem.Message}";
        if (given.FirstOrDefault(f => f.Flag == row.Option.Name) is not { } flag)
            return $"{row.Option.Name}: {problem.Message}";
        var detail = problem.Message;
        // The spec's message repeats the value, which the flag form already shows.
        foreach (var echo in new[] { flag.Value + " ", $"'{flag.Value.Trim('\'')}' " })
        {
            if (detail.StartsWith(echo, StringComparison.Ordinal))
            {
                detail = detail[echo.Length..];
                break;
            }
        }
        return $"{flag}: {detail}";
    }

    private static string Quote(string value) => value.Length == 0 || value.Contains(' ') ? $"'{value}'" : value;
}
