using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Cli;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Cli;

/// <summary>
/// One set of rules for a spec, whoever gives it: `run`'s flags, `serve`'s flags and a MiniLbConfig get the same
/// answer, the command line naming the flag and the status naming the spec field.
/// </summary>
public sealed class SpecFlagsTests
{
    [TestCase("--ttl", "0", "spec.ttl")]
    [TestCase("--domain", "Not_A_Zone", "spec.domain")]
    [TestCase("--listen", "localhost:53", "spec.listen")]
    [TestCase("--upstream", "router.lan", "spec.forwarding.upstreams[0]")]
    public async Task The_same_bad_value_names_the_flag_on_the_command_line_and_the_field_in_the_status(string flag, string value, string field)
    {
        var spec = new MiniLbConfigSpec { Listen = "127.0.0.1:0" };
        (flag switch
        {
            "--ttl" => (Action)(() => spec.Ttl = int.Parse(value)),
            "--domain" => () => spec.Domain = value,
            "--listen" => () => spec.Listen = value,
            _ => () => spec.Forwarding = new ForwardingSpec { Upstreams = [value] },
        })();
        await using var live = new LiveConfig("default", new ZoneHolder(Zone.Empty(new ZoneSettings())), NullLoggerFactory.Instance);
        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 1 }, Spec = spec });
        var run = await CliRun.RunAsync("run", "--kubeconfig", "/nonexistent", flag, value);
        var serve = await CliRun.RunAsync("serve", "--snapshot", "/nonexistent", flag, value);

        var status = live.Problem!.Message;
        Assert.That(status, Does.StartWith(field + ": "), "the status names the spec field");
        Assert.That(run.Error, Does.StartWith($"minilb run: {flag}"), "the command line names the flag");
        var detail = run.Error.Trim()[(run.Error.IndexOf(": ", "minilb run: ".Length, StringComparison.Ordinal) + 2)..];
        Assert.That(detail, Is.Not.Empty);
        Assert.That(status, Does.EndWith(detail), "the same message after the name, the value said once");
        Assert.That(serve.Error.Replace("minilb serve: ", ""), Is.EqualTo(run.Error.Replace("minilb run: ", "")), "serve checks its flags by the same rules");
        Assert.That((run.ExitCode, serve.ExitCode), Is.EqualTo((CommandLine.BadInput, CommandLine.BadInput)));
    }

    [Test]
    public void A_problem_in_a_field_no_flag_sets_is_named_by_the_field()
    {
        var problem = new SpecProblem("spec.forwarding.maxInFlight", "0 must be between 1 and 10000");

        Assert.That(SpecFlags.ForFlag(problem, SpecFlags.Create(), []), Is.EqualTo("spec.forwarding.maxInFlight: 0 must be between 1 and 10000"));
        Assert.That(SpecFlags.ForFlag(new SpecProblem("spec.forwarding.upstreamsExtra", "x"), SpecFlags.Create(), []), Is.EqualTo("spec.forwarding.upstreamsExtra: x"),
            "a field whose name merely starts like a flag's is not that flag's");
    }
}
