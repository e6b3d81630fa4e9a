using System.CommandLine;

namespace MiniLb.Operator.Cli;

/// <summary>The `minilb` command tree. Each sub-command lives in its own file and exposes `Create()`.</summary>
public static class CommandLine
{
    /// <summary>Exit code for bad input (arguments, files, configuration) — nothing was started.</summary>
    public const int BadInput = 2;

    public static RootCommand Build() => new("minilb — DNS-based load balancer for Kubernetes: answers LoadBalancer Service names with ready pod IPs.")
    {
        ServeCommand.Create(),
        RoutesCommand.Create(),
        ManifestsCommand.Create(),
        RunCommand.Create(),
    };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var parse = Build().Parse(args, new ParserConfiguration());
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                await stderr.WriteLineAsync($"minilb: {error.Message}");
            await stderr.WriteLineAsync("Run 'minilb --help' for usage.");
            return BadInput;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, ct);
    }
}
