using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Cli;
using MiniLb.Operator.Tests.Cli;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary>
/// <c>minilb serve --upstream</c> in front of a real resolver: dnsmasq on 127.0.0.3 answering example.test from a
/// hosts file (never a public resolver), queried with dig as a LAN client would.
/// </summary>
public sealed class ServeForwardingTests
{
    private static readonly string? Dig = Find("dig"), Dnsmasq = Find("dnsmasq");

    private static string? Find(string program) =>
        ((string[])[.. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'), "/usr/sbin", "/sbin"])
            .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    /// <summary>dnsmasq serving example.test: www (one address), medium (40), on a free port of 127.0.0.3.</summary>
    private sealed class LanResolver : IDisposable
    {
        private readonly Process process;
        private readonly string directory = Directory.CreateTempSubdirectory("minilb-dnsmasq-").FullName;

        public LanResolver(params string[] extra)
        {
            var hosts = Path.Combine(directory, "hosts");
            File.WriteAllLines(hosts, ["192.0.2.200 www.example.test", .. Enumerable.Range(1, 40).Select(i => $"192.0.2.{i} medium.example.test")]);
            Port = FreePort();
            var info = new ProcessStartInfo(Dnsmasq!)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            foreach (var arg in (string[])["--keep-in-foreground", "--no-resolv", "--no-hosts", $"--addn-hosts={hosts}", "--local=/example.test/",
                         "--listen-address=127.0.0.3", "--bind-interfaces", $"--port={Port}", "--pid-file=", .. Environment.UserName == "root" ? ["--user=root"] : Array.Empty<string>(), .. extra])
                info.ArgumentList.Add(arg);
            process = Process.Start(info)!;
        }

        public int Port { get; }

        public string Address => $"127.0.0.3:{Port}";

        /// <summary>Waits until dnsmasq answers.</summary>
        public async Task ReadyAsync()
        {
            for (var i = 0; i < 100; i++)
            {
                if (process.HasExited)
                    Assert.Fail($"dnsmasq exited: {await process.StandardError.ReadToEndAsync()}");
                try
                {
                    if (await Upstreams.UdpFromAsync(IPAddress.Loopback, new IPEndPoint(IPAddress.Parse("127.0.0.3"), Port), RawQuery.Build("www.example.test"), TimeSpan.FromMilliseconds(100)) is not null)
                        return;
                }
                catch (SocketException)
                {
                    await Task.Delay(100); // not listening yet: ICMP port unreachable
                }
            }
            Assert.Fail("dnsmasq did not answer within 10 s");
        }

        private static int FreePort()
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.3"), 0));
            return ((IPEndPoint)udp.LocalEndPoint!).Port;
        }

        public void Dispose()
        {
            process.Kill();
            process.WaitForExit();
            process.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<string> DigAsync(int port, params string[] args)
    {
        var info = new ProcessStartInfo(Dig!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["@127.0.0.1", "-p", port.ToString(), "+tries=1", "+time=5", .. args])
            info.ArgumentList.Add(arg);
        using var dig = Process.Start(info)!;
        var output = await dig.StandardOutput.ReadToEndAsync();
        await dig.WaitForExitAsync();
        return output;
    }

    private static void RequireTools()
    {
        if (Dig is null || Dnsmasq is null)
            Assert.Ignore("needs dig and dnsmasq (Debian: dnsutils, dnsmasq-base; .ci/run installs them)");
    }

    [Test]
    public async Task A_LAN_client_gets_outside_names_from_the_resolver_and_minilbs_own_names_from_minilb()
    {
        RequireTools();
        using var resolver = new LanResolver();
        await resolver.ReadyAsync();
        var health = ServeMonitoringTests.FreeTcpPort();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--upstream", resolver.Address, "--health-listen", $"127.0.0.1:{health}");
        var port = await serve.PortAsync();

        var outside = await DigAsync(port, "www.example.test");
        var overTcp = await DigAsync(port, "+tcp", "www.example.test", "+short");
        var own = await DigAsync(port, "web.default.minilb");
        var missing = await DigAsync(port, "nope.example.test");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        var metrics = await http.GetStringAsync("/metrics");

        Assert.That(serve.Output.ToString(), Does.Contain($"Forwarding: names outside the zone are forwarded to {resolver.Address}"));
        Assert.That(outside, Does.Contain("status: NOERROR").And.Match(@"flags: qr rd ra;").And.Contain("192.0.2.200"), "recursion available, not authoritative");
        Assert.That(overTcp.Trim(), Is.EqualTo("192.0.2.200"));
        Assert.That(own, Does.Match(@"flags: qr aa rd;"), "minilb's own names: authoritative, as before");
        Assert.That(missing, Does.Contain("status: NXDOMAIN").And.Contain("ra;"), "the resolver's NXDOMAIN is relayed");
        Assert.That(metrics, Does.Contain("minilb_dns_forwarded_total{result=\"answered\"} 3"));
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NOERROR\",transport=\"tcp\"} 1"), "forwarded answers are counted as answered queries too");
    }

    [Test]
    public async Task An_answer_the_resolver_truncates_over_UDP_is_fetched_over_TCP_and_relayed_whole_when_it_fits_the_client()
    {
        RequireTools();
        using var resolver = new LanResolver("--edns-packet-max=512"); // 40 addresses (≈700 bytes) come back truncated over UDP
        await resolver.ReadyAsync();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0", "--upstream", resolver.Address);
        var port = await serve.PortAsync();

        var direct = await Upstreams.UdpFromAsync(IPAddress.Loopback, new IPEndPoint(IPAddress.Parse("127.0.0.3"), resolver.Port),
            RawQuery.Build("medium.example.test", edns: new RawQuery.Edns(Size: 1232), recursionDesired: true));
        var relayed = await DigAsync(port, "+bufsize=1232", "+ignore", "medium.example.test");
        var small = await DigAsync(port, "+noedns", "+ignore", "medium.example.test");

        Assert.That(DnsMessage.Parse(direct!).IsTruncated, Is.True, "dnsmasq itself truncates at 512");
        Assert.That(relayed, Does.Contain("ANSWER: 40,").And.Not.Match(@"flags:[^;]* tc"), "minilb asked again over TCP; 40 addresses fit the client's 1232");
        Assert.That(small, Does.Match(@"flags:[^;]* tc").And.Match(@"MSG SIZE\s+rcvd: \d{1,3}\b"), "a client without EDNS gets TC=1 within 512 bytes");
    }

    [Test]
    public async Task The_NativeAOT_binary_forwards_too()
    {
        RequireTools();
        var binary = MiniLb.Operator.Tests.EndToEnd.AotBinary.Locate(); // ignored when artifacts/publish/minilb is absent
        using var resolver = new LanResolver();
        await resolver.ReadyAsync();
        var port = ServeMonitoringTests.FreeTcpPort();
        await using var serve = MiniLb.Operator.Tests.EndToEnd.AotBinary.Start("serve", "--snapshot", TestObjects.SampleSnapshot,
            "--listen", $"127.0.0.1:{port}", "--upstream", resolver.Address);
        await serve.WaitForOutputAsync("Press Ctrl-C to stop.");

        Assert.That(binary, Does.EndWith("minilb"));
        Assert.That(await DigAsync(port, "www.example.test", "+short"), Is.EqualTo("192.0.2.200\n"));
        Assert.That(await DigAsync(port, "+tcp", "medium.example.test"), Does.Contain("ANSWER: 40,").And.Match(@"flags: qr rd ra;"));
    }

    [Test]
    public async Task A_client_outside_forward_allow_is_refused()
    {
        RequireTools();
        using var resolver = new LanResolver();
        await resolver.ReadyAsync();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--upstream", resolver.Address, "--forward-allow", "127.0.0.1/32");
        var port = await serve.PortAsync();

        var stranger = await DigAsync(port, "-b", "127.0.0.2", "www.example.test");
        var allowed = await DigAsync(port, "-b", "127.0.0.1", "www.example.test");

        Assert.That(stranger, Does.Contain("status: REFUSED").And.Not.Contain("192.0.2.200"));
        Assert.That(allowed, Does.Contain("status: NOERROR").And.Contain("192.0.2.200"));
    }

    [Test]
    public async Task A_silent_upstream_and_a_dead_one_give_SERVFAIL_after_the_forward_timeout()
    {
        RequireTools();
        using var silent = new Upstreams.Silent();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--upstream", $"{silent.EndPoint},{Upstreams.Down()}", "--forward-timeout", "300");
        var port = await serve.PortAsync();

        var clock = Stopwatch.StartNew();
        var reply = await DigAsync(port, "www.example.test");
        TestContext.Out.WriteLine($"SERVFAIL after {clock.Elapsed.TotalMilliseconds:F0} ms (one silent upstream at 300 ms, one dead)");

        Assert.That(reply, Does.Contain("status: SERVFAIL").And.Match(@"flags: qr rd ra;"), "dig's own timeout (5 s) is not what ended it");
    }

    [Test]
    public async Task Without_upstream_outside_names_are_refused_as_before()
    {
        RequireTools();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        var port = await serve.PortAsync();

        Assert.That(await DigAsync(port, "www.example.test"), Does.Contain("status: REFUSED").And.Match(@"flags: qr rd;"));
        Assert.That(serve.Output.ToString(), Does.Contain("Names outside the zone are refused (no --upstream)."));
    }

    [TestCase(new[] { "--upstream", "192.168.1.1,resolver.lan" }, "--upstream: 'resolver.lan' is not an IP address[:port]")]
    [TestCase(new[] { "--upstream", "192.168.1.1", "--forward-allow", "lan" }, "--forward-allow: 'lan' is not a CIDR")]
    [TestCase(new[] { "--forward-allow", "10.0.0.0/8" }, "--forward-allow: needs --upstream")]
    [TestCase(new[] { "--upstream", "192.168.1.1", "--forward-timeout", "5" }, "--forward-timeout 5: must be between 100 and 30000 milliseconds")]
    public async Task Bad_forwarding_flags_are_bad_input(string[] flags, string message)
    {
        var run = await CliRun.RunAsync(["serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0", .. flags]);

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain(message));
    }

    [Test]
    public async Task Run_takes_upstream_and_checks_it_like_serve()
    {
        var run = await CliRun.RunAsync("run", "--kubeconfig", "/nonexistent", "--upstream", "not-an-ip");

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("minilb run: --upstream: 'not-an-ip' is not an IP address[:port]"), "named like the other flags of run (SpecFlags)");
    }
}
