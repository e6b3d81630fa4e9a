using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Cli;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Cli;

/// <summary><c>minilb serve --rate-limit</c>: off by default, on with a number, bad numbers refused.</summary>
public class ServeRateLimitTests
{
    /// <summary>Sends <paramref name="count"/> queries at once and sorts the replies: full answers, TC=1 slips.</summary>
    private static async Task<(int Answers, int Slips)> Burst(int port, int count, string name = "web.default.minilb")
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 1 << 20 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        for (var id = 1; id <= count; id++)
        {
            await socket.SendAsync(RawQuery.Build(name, id: (ushort)id, recursionDesired: true));
            if (id % 25 == 0)
                await Task.Delay(1); // bursts of 25: no socket buffer overflows on a busy machine
        }
        var (answers, slips) = (0, 0);
        var buffer = new byte[4096];
        while (true)
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                var reply = DnsMessage.Parse(buffer[..await socket.ReceiveAsync(buffer, SocketFlags.None, quiet.Token)]);
                if (reply.AnswerRecords.Count > 0)
                    answers++;
                else if (reply.IsTruncated)
                    slips++;
            }
            catch (OperationCanceledException)
            {
                return (answers, slips);
            }
        }
    }

    [Test]
    public async Task Without_the_flag_every_query_is_answered()
    {
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        var port = await serve.PortAsync();

        Assert.That(await Burst(port, 300), Is.EqualTo((300, 0)));
        Assert.That(serve.Output.ToString(), Does.Not.Contain("limited"));
    }

    [Test]
    public async Task With_the_flag_a_client_over_the_limit_gets_some_TC_replies_and_otherwise_nothing()
    {
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0", "--rate-limit", "50", "--rate-limit-slip", "3");
        var port = await serve.PortAsync();

        var (answers, slips) = await Burst(port, 300);

        // 50 at once, plus what refills (50/s) while the burst is sent; a third of the rest slip.
        Assert.That(answers, Is.InRange(50, 80));
        Assert.That(slips, Is.InRange((300 - answers) / 3 - 2, (300 - answers) / 3 + 2));
        Assert.That(serve.Output.ToString(), Does.Contain("limited to 50/s per client /24 or /56").And.Contain("1 query in 3"));
    }

    [Test]
    public async Task With_the_flag_and_upstream_forwarded_answers_are_limited_alike_and_the_upstream_asked_only_for_those()
    {
        var asked = 0;
        await using var upstream = Forwarding.Upstreams.Resolver(() => Interlocked.Increment(ref asked));
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--rate-limit", "50", "--rate-limit-slip", "3", "--upstream", upstream.EndPoint.ToString());
        var port = await serve.PortAsync();

        var (answers, slips) = await Burst(port, 300, "www.example.test");

        Assert.That(answers, Is.InRange(50, 80));
        Assert.That(slips, Is.InRange((300 - answers) / 3 - 2, (300 - answers) / 3 + 2));
        Assert.That(asked, Is.EqualTo(answers), "a query over the limit never reaches the upstream");
    }

    [TestCase("--rate-limit", "-5", "--rate-limit -5: must be 0 (no limit) or a positive number of answers per second")]
    [TestCase("--rate-limit-slip", "-1", "--rate-limit-slip -1: must be 0 (never) or a positive number")]
    [TestCase("--rate-limit", "lots", "lots")]
    public async Task A_bad_rate_limit_is_bad_input(string option, string value, string message)
    {
        var run = await CliRun.RunAsync("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0", option, value);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain(message));
        Assert.That(run.Output, Does.Not.Contain("listening"));
    }
}
