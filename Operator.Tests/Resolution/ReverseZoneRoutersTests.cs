using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Tests.Dns;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>
/// The router lines of docs/forwarding.md, "Reverse zones (PTR)", with the real dnsmasq and Unbound on loopback:
/// a LAN client asks the router for a pod's name and gets the Service's. Nothing leaves 127.0.0.1 (Unbound gets
/// loopback root hints and no validator, so it never primes the real root).
/// </summary>
[NonParallelizable]
public class ReverseZoneRoutersTests
{
    private TestDnsServer minilb = null!;
    private string directory = null!;

    [OneTimeSetUp]
    public void Start()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Node("node-a", ["192.168.1.30"], ["10.244.0.0/24", "fd00:10:244::/64"]));
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11")));
        model.Upsert(Slice("default", "web", "web-6", "IPv6", Ready("fd00:10:244::11")));
        minilb = TestDnsServer.Start(model.Publish());
        directory = Directory.CreateTempSubdirectory("minilb-reverse-").FullName;
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await minilb.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    private string Minilb(char separator) => $"127.0.0.1{separator}{minilb.Port}";

    [TestCase("server=/0.244.10.in-addr.arpa/{0}", "server=/0.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa/{0}", TestName = "dnsmasq server=/<reverse zone>/ lines, bogus-priv on")]
    [TestCase("rev-server=10.244.0.0/16,{0}", "rev-server=fd00:10:244::/48,{0}", TestName = "dnsmasq rev-server= lines, bogus-priv on")]
    public async Task Dnsmasq_forwards_the_reverse_zones(string v4Line, string v6Line)
    {
        await using var dnsmasq = await Router.StartAsync("dnsmasq", async port =>
        {
            var conf = Path.Combine(directory, $"dnsmasq-{port}.conf");
            await File.WriteAllLinesAsync(conf,
            [
                "listen-address=127.0.0.1", $"port={port}", "bind-interfaces", "no-resolv", "no-hosts", "stop-dns-rebind",
                "bogus-priv", // Pi-hole's default: private reverse lookups end at the router unless a server line covers them
                $"server=/minilb/{Minilb('#')}", "rebind-domain-ok=/minilb/",
                string.Format(v4Line, Minilb('#')), string.Format(v6Line, Minilb('#')),
            ]);
            return ["--keep-in-foreground", "--user=root", "--log-facility=-", "--pid-file=" + Path.Combine(directory, $"dnsmasq-{port}.pid"), "--conf-file=" + conf];
        });

        await AssertPointersAsync(dnsmasq);
    }

    [Test]
    public async Task Unbound_forwards_the_reverse_zones_once_its_RFC_6303_local_zones_step_aside()
    {
        await using (var blocked = await StartUnboundAsync(nodefault: false))
        {
            var answer = await blocked.AskAsync("11.0.244.10.in-addr.arpa");
            Assert.That((answer.ReturnCode, answer.AnswerRecords.Count), Is.EqualTo((ReturnCode.NxDomain, 0)),
                "without `local-zone: \"10.in-addr.arpa.\" nodefault` Unbound answers 10.x reverse names itself, forward-zone or not");
            var v6 = await blocked.AskAsync(ReverseNames.PointerOf(IPAddress.Parse("fd00:10:244::11")).ToString(false));
            Assert.That((v6.ReturnCode, v6.AnswerRecords.Count), Is.EqualTo((ReturnCode.NxDomain, 0)), "the same for ULA (fd00::/8) names under d.f.ip6.arpa");
        }
        await using var unbound = await StartUnboundAsync(nodefault: true);

        await AssertPointersAsync(unbound);
    }

    private async Task AssertPointersAsync(Router router)
    {
        var v4 = await router.AskAsync("11.0.244.10.in-addr.arpa");
        var v6 = await router.AskAsync(ReverseNames.PointerOf(IPAddress.Parse("fd00:10:244::11")).ToString(false));
        var missing = await router.AskAsync("99.0.244.10.in-addr.arpa");

        Assert.That(v4.AnswerRecords.OfType<PtrRecord>().Select(p => p.PointerDomainName.ToString(false)), Is.EqualTo(new[] { "web.default.minilb" }), router.Log);
        Assert.That(v6.AnswerRecords.OfType<PtrRecord>().Select(p => p.PointerDomainName.ToString(false)), Is.EqualTo(new[] { "web.default.minilb" }), router.Log);
        Assert.That(missing.ReturnCode, Is.EqualTo(ReturnCode.NxDomain));
        Assert.That(missing.AuthorityRecords.OfType<SoaRecord>().Single().Name.ToString(false), Is.EqualTo("0.244.10.in-addr.arpa"), "minilb's negative answer, passed on");
    }

    private Task<Router> StartUnboundAsync(bool nodefault) => Router.StartAsync("unbound", async port =>
    {
        var hints = Path.Combine(directory, "hints.zone");
        await File.WriteAllTextAsync(hints, ". 3600000 IN NS a.root-servers.net.\na.root-servers.net. 3600000 IN A 127.0.0.2\n");
        var conf = Path.Combine(directory, $"unbound-{port}.conf");
        await File.WriteAllTextAsync(conf, $"""
            server:
              interface: 127.0.0.1@{port}
              access-control: 127.0.0.0/8 allow
              do-daemonize: no
              username: ""
              chroot: ""
              directory: "{directory}"
              pidfile: ""
              use-syslog: no
              do-not-query-localhost: no
              module-config: "iterator"
              root-hints: "{hints}"
              domain-insecure: "minilb"
              private-domain: "minilb"
              domain-insecure: "0.244.10.in-addr.arpa"
              domain-insecure: "0.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa"
            {(nodefault ? "  local-zone: \"10.in-addr.arpa.\" nodefault\n  local-zone: \"d.f.ip6.arpa.\" nodefault" : "")}
            forward-zone:
              name: "minilb"
              forward-addr: {Minilb('@')}
            forward-zone:
              name: "0.244.10.in-addr.arpa"
              forward-addr: {Minilb('@')}
            forward-zone:
              name: "0.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa"
              forward-addr: {Minilb('@')}

            """);
        return ["-d", "-c", conf];
    });

    /// <summary>A port free for UDP and TCP on 127.0.0.1 right now (another test may still take it: the router start retries).</summary>
    private static int FreePort()
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return port;
        }
        catch (SocketException)
        {
            return FreePort();
        }
    }

    /// <summary>A router's resolver on 127.0.0.1:<c>port</c>, stopped (by its own process id) when disposed.</summary>
    private sealed class Router : IAsyncDisposable
    {
        private readonly Process process;
        private readonly DnsClient client;
        private readonly System.Text.StringBuilder log = new();

        private Router(Process process, int port)
        {
            this.process = process;
            client = new DnsClient([IPAddress.Loopback], [new UdpClientTransport(port)], disposeTransport: true, queryTimeout: 3000);
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Log
        {
            get
            {
                lock (log)
                    return log.ToString();
            }
        }

        /// <param name="arguments">The program's arguments for a given port (writing its configuration file).</param>
        public static async Task<Router> StartAsync(string program, Func<int, Task<string[]>> arguments)
        {
            if (!File.Exists("/usr/sbin/" + program))
                Assert.Ignore($"{program} is not installed (Debian: {(program == "dnsmasq" ? "dnsmasq-base" : program)}; .ci/run installs it)");
            for (var attempt = 1; ; attempt++)
            {
                var port = FreePort();
                var args = await arguments(port);
                var router = new Router(Process.Start(new ProcessStartInfo("/usr/sbin/" + program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!, port);
                // Listening once it answers minilb's apex SOA through its forwarding line.
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < TestDnsServer.Patience && !router.process.HasExited)
                {
                    if (await router.client.ResolveAsync(DomainName.Parse("minilb"), RecordType.Soa) is { ReturnCode: ReturnCode.NoError })
                        return router;
                    await Task.Delay(100);
                }
                await router.DisposeAsync();
                // Other tests pick free ports at the same time: one may have taken this one meanwhile.
                if (attempt < 5 && router.Log.Contains("in use", StringComparison.OrdinalIgnoreCase))
                    continue;
                Assert.Fail($"{program} did not answer within {TestDnsServer.Patience}: {router.Log}");
            }
        }

        public async Task<DnsMessage> AskAsync(string name)
        {
            var answer = await client.ResolveAsync(DomainName.Parse(name), RecordType.Ptr);
            Assert.That(answer, Is.Not.Null, $"no answer for {name}: {Log}");
            return answer!;
        }

        public async ValueTask DisposeAsync()
        {
            ((IDisposable)client).Dispose();
            if (!process.HasExited)
                process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null)
                return;
            lock (log)
                log.AppendLine(line);
        }
    }
}
