using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MiniLb.Operator.Cli;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Cli;

public partial class ServeCommandTests
{
    private static string TempFile(string text)
    {
        var file = Path.Combine(Path.GetTempPath(), $"minilb-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, text);
        return file;
    }

    [Test]
    public async Task Prints_the_routes_then_serves_the_snapshot_until_stopped()
    {
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        var port = await serve.PortAsync();

        var lines = serve.Output.ToString().Split('\n');
        Assert.That(lines[0], Is.EqualTo(MiniLb.Operator.Routes.RouteFormats.RouterHeading));
        Assert.That(lines[1], Is.EqualTo("ip route add 10.244.0.0/24 via 192.168.1.30"));
        var reply = await new UdpClient().Query(port, RawQuery.Build("web.default.minilb"));
        Assert.That(reply, Is.Not.Null, "serve answers DNS");

        Assert.That(await serve.StopAsync(), Is.Zero);
    }

    [Test]
    public async Task A_missing_snapshot_is_bad_input_naming_the_file()
    {
        var missing = Path.Combine(Path.GetTempPath(), "minilb-missing-snapshot.yaml");
        var run = await CliRun.RunAsync("serve", "--snapshot", missing, "--listen", "127.0.0.1:0");

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain(missing).And.Contain("no such file"));
        Assert.That(run.Output, Does.Not.Contain("listening"), "nothing is served");
    }

    [Test]
    public async Task A_malformed_snapshot_is_bad_input_naming_the_file_and_line()
    {
        var file = TempFile("apiVersion: v1\nkind: Service\nmetadata: {name: web\n");
        try
        {
            var run = await CliRun.RunAsync("serve", "--snapshot", file, "--listen", "127.0.0.1:0");

            Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
            Assert.That(run.Error, Does.Match($@"{Regex.Escape(file)}:\d+: malformed YAML"));
            Assert.That(run.Output, Does.Not.Contain("listening"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task An_object_missing_a_required_field_is_bad_input_naming_it()
    {
        var file = TempFile("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: web, namespace: shop}\n");
        try
        {
            var run = await CliRun.RunAsync("serve", "--snapshot", file, "--listen", "127.0.0.1:0");

            Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
            Assert.That(run.Error, Does.Contain($"{file}:4: Service shop/web: missing required field 'spec'"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestCase("nonsense", "--listen nonsense: is not a listen address")]
    [TestCase("127.0.0.1:http", "the port must be a number")]
    public async Task A_bad_listen_address_is_bad_input(string listen, string message)
    {
        var run = await CliRun.RunAsync("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", listen);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain(message));
    }

    [Test]
    public async Task An_address_that_cannot_be_bound_is_bad_input_and_nothing_is_printed_as_served()
    {
        using var busy = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        busy.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)busy.LocalEndPoint!).Port;

        var run = await CliRun.RunAsync("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", $"127.0.0.1:{port}");

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain($"cannot listen on 127.0.0.1:{port} (UDP): the port is already in use"));
        Assert.That(run.Output, Is.Empty);
    }

    [TestCase("--ttl", "-1", "--ttl -1: must be 1–3600 seconds")]
    [TestCase("--ttl", "0", "--ttl 0: must be 1–3600 seconds")]
    [TestCase("--domain", "bad..name", "--domain bad..name: must be a DNS subdomain (RFC 1123)")]
    public async Task Bad_settings_are_bad_input(string option, string value, string message)
    {
        var run = await CliRun.RunAsync("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0", option, value);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain(message));
    }

    /// <summary>A person following the README gets the answers the README shows.</summary>
    [Test]
    public async Task The_README_dig_lines_give_the_answers_the_README_shows()
    {
        var dig = FindDig();
        if (dig is null)
            Assert.Ignore("dig is not installed (Debian/Ubuntu: apt-get install dnsutils); CI installs it");

        var examples = ReadmeExamples();
        Assert.That(examples, Has.Count.GreaterThanOrEqualTo(3), "the README shows dig lines");
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        var port = await serve.PortAsync();

        foreach (var (command, expected) in examples)
        {
            var args = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(a => a == "5353" ? port.ToString() : a).ToArray();
            var actual = await RunAsync(dig, args);
            // Answers are shuffled and message IDs random: compare the lines as sets, IDs masked.
            Assert.That(Normalise(actual), Is.EqualTo(Normalise(expected)), $"$ {command}\n--- got:\n{actual}");
        }
    }

    private static string? FindDig() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "dig")).FirstOrDefault(File.Exists);

    /// <summary>Each <c>$ dig ...</c> line of the README and the lines shown after it.</summary>
    private static List<(string Command, string Output)> ReadmeExamples()
    {
        var examples = new List<(string, string)>();
        string? command = null;
        var output = new List<string>();
        foreach (var line in File.ReadLines(Path.Combine(TestObjects.RepositoryRoot, "README.md")))
        {
            if (command is not null && (line.StartsWith("$ ", StringComparison.Ordinal) || line.StartsWith("```", StringComparison.Ordinal)))
            {
                examples.Add((command, string.Join("\n", output)));
                command = null;
            }
            if (line.StartsWith("$ dig ", StringComparison.Ordinal))
            {
                command = line[2..];
                output.Clear();
            }
            else if (command is not null)
                output.Add(line);
        }
        return examples;
    }

    private static string[] Normalise(string text) =>
        text.Split('\n').Select(l => IdField().Replace(l.TrimEnd(), "id: N")).Where(l => l.Length > 0).Order(StringComparer.Ordinal).ToArray();

    private static async Task<string> RunAsync(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return output;
    }

    [GeneratedRegex(@"id: \d+")]
    private static partial Regex IdField();
}
