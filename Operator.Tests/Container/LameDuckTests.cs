using System.Diagnostics;
using System.Net;
using k8s;
using MiniLb.Operator.Tests.Controllers;
using MiniLb.Operator.Tests.EndToEnd;

namespace MiniLb.Operator.Tests.Container;

/// <summary>
/// A rolling upgrade as Kubernetes does it (issue 16): SIGTERM to the shipped binary while clients keep querying.
/// /readyz must fail at once, every query sent during the lame-duck period must be answered, a leader must give its
/// lease up at once, and the process must be gone within the period plus one second.
/// </summary>
[NonParallelizable]
public sealed class LameDuckTests : OperatorFixture
{
    private const int LameDuckSeconds = 3;
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(LameDuckSeconds);

    [Test]
    public async Task Serve_fails_readiness_at_once_answers_every_query_of_the_period_and_exits_within_it()
    {
        var (port, health) = (FreePort(), FreePort());
        await using var serve = AotBinary.Start("serve", "--snapshot", AotBinary.RepositoryFile("config/samples/cluster-snapshot.yaml"),
            "--listen", $"127.0.0.1:{port}", "--health-listen", $"127.0.0.1:{health}", "--lame-duck", $"{LameDuckSeconds}");
        await serve.WaitForOutputAsync("Press Ctrl-C to stop.");
        var name = AotBinary.ServedNames(serve.Output).First();

        var stop = await StopWhileQueryingAsync(serve, port, name, health);

        TestContext.Out.WriteLine($"serve: {stop}");
        Assert.Multiple(() =>
        {
            Assert.That(stop.Unanswered, Is.Empty, $"queries sent during the lame-duck period went unanswered (of {stop.Answered + stop.Unanswered.Count})");
            Assert.That(stop.Answered, Is.GreaterThan(10), "queries were sent throughout the period");
            Assert.That(stop.NotReadyAfter, Is.LessThan(Period), "/readyz failed while DNS still answered");
            Assert.That(stop.ExitedAfter, Is.LessThanOrEqualTo(Period + TimeSpan.FromSeconds(1)), "gone within the period plus one second");
            Assert.That(stop.ExitCode, Is.Zero, serve.Error);
        });
    }

    [Test]
    public async Task Run_gives_up_its_lease_at_once_and_keeps_answering_through_the_period()
    {
        var (port, health) = (FreePort(), FreePort());
        await CreateConfigAsync(port: port);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await using var run = AotBinary.Start("run", "--kubeconfig", Kubeconfig, "--namespace", "default",
            "--health-listen", $"127.0.0.1:{health}", "--lame-duck", $"{LameDuckSeconds}");
        await run.WaitForOutputAsync("minilb running");
        await WaitUntilAsync(async () => await HolderAsync() is { Length: > 0 }, "the replica holds the lease");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "DNS answers");

        var released = Stopwatch.StartNew();
        var releasedAfter = Task.Run(async () =>
        {
            while (await HolderAsync() is { Length: > 0 } && released.Elapsed < Period * 2)
                await Task.Delay(20);
            return released.Elapsed;
        });
        var stop = await StopWhileQueryingAsync(run, port, "web.default.minilb", health);

        Assert.Multiple(async () =>
        {
            Assert.That(stop.Unanswered, Is.Empty, $"queries sent during the lame-duck period went unanswered (of {stop.Answered + stop.Unanswered.Count})");
            Assert.That(stop.NotReadyAfter, Is.LessThan(Period), "/readyz failed while DNS still answered");
            Assert.That(await releasedAfter, Is.LessThan(Period), "the lease was given up during the period, not after it");
            Assert.That(stop.ExitedAfter, Is.LessThanOrEqualTo(Period + TimeSpan.FromSeconds(1)), "gone within the period plus one second");
            Assert.That(stop.ExitCode, Is.Zero, run.Error);
        });
        TestContext.Out.WriteLine($"run: {stop}; lease released {(await releasedAfter).TotalMilliseconds:0} ms after SIGTERM");
    }

    [TestCase("301")]
    [TestCase("soon")]
    public async Task A_lame_duck_period_out_of_range_is_refused_naming_the_option(string seconds)
    {
        var error = new StringWriter();

        var exit = await MiniLb.Operator.Cli.CommandLine.RunAsync(["serve", "--lame-duck", seconds], new StringWriter(), error);

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(MiniLb.Operator.Cli.CommandLine.BadInput));
            Assert.That(error.ToString(), Does.Contain("--lame-duck").And.Contain(seconds));
        });
    }

    private async Task<string?> HolderAsync()
    {
        var leases = await Client.CoordinationV1.ListNamespacedLeaseAsync("default");
        return leases.Items.SingleOrDefault(l => l.Metadata.Name == "minilb-leader")?.Spec.HolderIdentity;
    }

    private sealed record Stop(int Answered, IReadOnlyList<string> Unanswered, TimeSpan NotReadyAfter, TimeSpan ExitedAfter, int ExitCode)
    {
        public override string ToString() =>
            $"after SIGTERM /readyz 503 at {NotReadyAfter.TotalMilliseconds:0} ms, {Answered} queries answered and {Unanswered.Count} not during the " +
            $"{LameDuckSeconds} s period, exit {ExitCode} at {ExitedAfter.TotalMilliseconds:0} ms";
    }

    /// <summary>
    /// Sends SIGTERM, then one UDP query after another (as a client that kube-proxy still sends here) until the process
    /// exits; the queries sent before the period ended are the ones that must be answered.
    /// </summary>
    private static async Task<Stop> StopWhileQueryingAsync(AotBinary minilb, int port, string name, int health)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        Assert.That((await http.GetAsync($"http://127.0.0.1:{health}/readyz")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "ready before the stop");

        var clock = Stopwatch.StartNew();
        Signal(minilb.Id, "TERM");
        var notReady = Task.Run(async () =>
        {
            while (clock.Elapsed < Period * 2)
            {
                try
                {
                    if ((await http.GetAsync($"http://127.0.0.1:{health}/readyz")).StatusCode == HttpStatusCode.ServiceUnavailable)
                        return clock.Elapsed;
                }
                catch (HttpRequestException)
                {
                    // The endpoint is gone: the process stopped without ever failing readiness.
                    return TimeSpan.MaxValue;
                }
                await Task.Delay(10);
            }
            return TimeSpan.MaxValue;
        });

        var (answered, unanswered) = (0, new List<string>());
        // The last 300 ms are left out: a query sent then may be answered after the period, when the socket is closing.
        while (clock.Elapsed < Period - TimeSpan.FromMilliseconds(300) && !minilb.HasExited)
        {
            var sent = clock.Elapsed;
            if (await QueryAsync(port, name) is { AnswerRecords.Count: > 0 })
                answered++;
            else
                unanswered.Add($"{sent.TotalMilliseconds:0} ms");
        }
        while (!minilb.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(10);
        var exited = clock.Elapsed;
        return new Stop(answered, unanswered, await notReady, exited, await minilb.StopAsync());
    }

    /// <summary>kill(1), as the kubelet's runtime sends SIGTERM.</summary>
    internal static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString()]);
        kill.WaitForExit();
    }
}
