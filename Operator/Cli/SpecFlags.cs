using System.CommandLine;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Cli;

/// <summary>
/// The flags of `minilb run` that set MiniLbConfig fields, one row each. They configure minilb while no MiniLbConfig
/// exists (the original minilb's flags-only start, no CRD needed); a MiniLbConfig, once there, wins as a whole. Values
/// are checked by the rules that check a spec (<see cref="LiveConfig.TryRead"/>), and a problem names the flag.
/// </summary>
public static class SpecFlags
{
    /// <summary>A flag, the spec field it sets (as LiveConfig.TryRead names it: `spec.x.y`), and how it sets it.</summary>
    public sealed record Row(Option Option, string Field, Action<MiniLbConfigSpec, ParseResult> Set);

    private static Row Of<T>(Option<T> option, string field, Action<MiniLbConfigSpec, T> set) =>
        new(option, field, (spec, parse) => set(spec, parse.GetValue(option)!));

    private const string Overridden = " A MiniLbConfig, when one exists, overrides this.";

    /// <summary>New options every call: System.CommandLine ties an option to one command.</summary>
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
        Of(ServeCommand.UpstreamOption(), "spec.forwarding.upstreams",
            (spec, value) => spec.Forwarding = new ForwardingSpec { Upstreams = [.. ServeCommand.Items(value ?? [])] }),
    ];

    /// <summary>
    /// The spec the given flags describe (the CRD's defaults for the rest) and which flags were given; false with a
    /// problem naming the flag, e.g. `--ttl 0: must be 1–3600 seconds`, when the spec could not work.
    /// </summary>
    public static bool TryRead(IReadOnlyList<Row> rows, ParseResult parse, out MiniLbConfigSpec spec, out IReadOnlyList<GivenFlag> given, out string problem)
    {
        spec = new MiniLbConfigSpec();
        var flags = new List<GivenFlag>();
        foreach (var row in rows)
        {
            if (parse.GetResult(row.Option) is not { Implicit: false } result)
                continue;
            row.Set(spec, parse);
            flags.Add(new GivenFlag(row.Option.Name, Quote(string.Join(" ", result.Tokens.Select(t => t.Value))), row.Field));
        }
        given = flags;
        if (LiveConfig.TryRead(spec, out _, out _, out var specProblem))
        {
            problem = "";
            return true;
        }
        problem = ForFlag(specProblem, flags);
        return false;
    }

    /// <summary>"spec.ttl: 0 must be …" becomes "--ttl 0: must be …" when a flag set that field; otherwise it stays as it is.</summary>
    internal static string ForFlag(string specProblem, IReadOnlyList<GivenFlag> flags)
    {
        var colon = specProblem.IndexOf(": ", StringComparison.Ordinal);
        if (colon < 0)
            return specProblem;
        var field = specProblem[..colon];
        var flag = flags.FirstOrDefault(f => field == f.Field || field.StartsWith(f.Field + ".", StringComparison.Ordinal) || field.StartsWith(f.Field + "[", StringComparison.Ordinal));
        if (flag is null)
            return specProblem;
        var detail = specProblem[(colon + 2)..];
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
