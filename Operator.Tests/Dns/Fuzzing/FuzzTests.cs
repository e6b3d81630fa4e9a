using System.Diagnostics;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Tests.Forwarding;

namespace MiniLb.Operator.Tests.Dns.Fuzzing;

/// <summary>
/// Hostile packets against a running server. The suite sends a test-sized run; <c>make fuzz</c> sets
/// <c>MINILB_FUZZ_PACKETS=1000000</c>. <c>MINILB_FUZZ_SEED</c> replays a run (the seed is printed, and named on failure).
/// </summary>
public class FuzzTests
{
    public const string PacketsVariable = "MINILB_FUZZ_PACKETS", SeedVariable = "MINILB_FUZZ_SEED";

    /// <summary>What the pipeline logs when ARSoft cannot parse a message whose framing holds together; it answers FORMERR.</summary>
    private const string ParseFailure = "Unreadable DNS query";

    /// <summary>With forwarding, hostile packets that read as queries for outside names go to an upstream (127.0.0.3).</summary>
    [TestCase(false)]
    [TestCase(true)]
    [Category("Fuzz")]
    public async Task Hostile_packets_over_UDP_and_TCP_crash_nothing_leak_nothing_and_real_queries_are_still_answered(bool forwarding)
    {
        var packets = int.TryParse(Environment.GetEnvironmentVariable(PacketsVariable), out var p) ? p : 30_000;
        await using var upstream = forwarding ? Upstreams.Resolver() : null;
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var s) ? s : Random.Shared.Next();
        TestContext.Out.WriteLine($"fuzz: {packets} packets, seed {seed} (replay with {SeedVariable}={seed})");

        var unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) =>
        {
            Interlocked.Increment(ref unobserved);
            TestContext.Out.WriteLine($"unobserved task exception: {e.Exception}");
        };
        TaskScheduler.UnobservedTaskException += onUnobserved;
        // Only entries with an exception matter; parse failures are expected and only counted.
        var logger = new CapturingLogger<DnsHost>
        {
            Keep = e => e.Exception is not null, Routine = e => e.Message.StartsWith(ParseFailure, StringComparison.Ordinal), Limit = 100,
        };
        try
        {
            await using var server = TestDnsServer.Start(AmplificationTests.Zone(),
                new DnsHostOptions
                {
                    IoTimeout = TimeSpan.FromSeconds(1), TcpIdleTimeout = TimeSpan.FromSeconds(2),
                    Forwarding = upstream is null ? null : new ForwardingSettings { Upstreams = [upstream.EndPoint] },
                    // Transfers allowed to the fuzzer: hostile packets that read as AXFR/IXFR reach the transfer path too.
                    Transfer = new MiniLb.Operator.Transfer.TransferSettings { AllowFrom = [System.Net.IPNetwork.Parse("127.0.0.0/8"), System.Net.IPNetwork.Parse("::1/128")] },
                }, logger: logger);
            var sockets = ProcessSockets.Visible ? ProcessSockets.Open() : 0;

            // Warm up (JIT, pools, buffers) before the "before" measurement.
            var warmUp = await Campaign(server, Math.Min(5_000, packets / 10 + 100), seed + 1, forwarding).RunAsync();
            Assert.That(warmUp.Failures, Is.Empty, $"seed {seed}: warm-up");
            var before = Memory.Measure();

            // Two halves: the first may still grow pools and thread counts; growth in the second would be a leak.
            var first = await Campaign(server, packets / 2, seed, forwarding).RunAsync();
            var middle = Memory.Measure();
            var second = await Campaign(server, packets - packets / 2, seed + 2, forwarding).RunAsync();
            var report = first.Add(second);

            Assert.That(await ProcessSockets.Eventually(() => server.Host.OpenTcpConnections == 0), Is.True, $"seed {seed}: {server.Host.OpenTcpConnections} TCP connections still open");
            if (forwarding && ProcessSockets.Visible)
                await ProcessSockets.Eventually(() => ProcessSockets.Open() <= sockets); // exchanges with the upstream still in flight hold buffers
            var after = Memory.Measure();
            var socketsAfter = ProcessSockets.Visible ? ProcessSockets.Open() : 0;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();

            var unexpected = logger.Entries.ToArray();
            TestContext.Out.WriteLine($"fuzz: {report.Packets} packets ({report.UdpPackets} UDP, {report.TcpPackets} TCP) in {report.Elapsed.TotalSeconds:F1} s = {report.PacketsPerSecond:F0}/s " +
                $"(UDP {report.UdpPackets / report.UdpElapsed.TotalSeconds:F0}/s for {report.UdpElapsed.TotalSeconds:F1} s, TCP {report.TcpPackets / report.TcpElapsed.TotalSeconds:F0}/s for {report.TcpElapsed.TotalSeconds:F1} s); " +
                $"{report.Checks} well-formed queries checked; {report.TcpClosedByServer} TCP connections closed by the server before the check; " +
                $"{logger.RoutineCount} unparseable messages answered FORMERR");
            TestContext.Out.WriteLine($"fuzz: kinds: {string.Join(", ", report.Kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}");
            TestContext.Out.WriteLine($"fuzz: memory before {before}, half way {middle}, after {after}; sockets before {sockets}, after {socketsAfter}; UDP datagrams dropped by the kernel {ProcessSockets.UdpDrops(server.Port)}");

            Assert.That(report.Failures, Is.Empty, $"seed {seed}: well-formed queries went wrong");
            if (forwarding)
                Assert.That(report.Kinds.GetValueOrDefault("check forwarded: answered"), Is.Positive, $"seed {seed}: no forwarded check was answered by the upstream");
            Assert.That(unexpected.Select(e => $"{e.Message}: {e.Exception}"), Is.Empty, $"seed {seed}: exceptions other than parse failures");
            Assert.That(unobserved, Is.Zero, $"seed {seed}: unobserved task exceptions");
            Assert.That(report.Packets, Is.GreaterThanOrEqualTo(packets * 95L / 100), "the campaign sent what it was asked to");
            Assert.That(after.HeapBytes - before.HeapBytes, Is.LessThan(16L << 20), $"seed {seed}: managed heap grew (before {before}, after {after})");
            Assert.That(after.ResidentBytes - before.ResidentBytes, Is.LessThan(128L << 20), $"seed {seed}: resident memory grew (before {before}, after {after})");
            Assert.That(after.ResidentBytes - middle.ResidentBytes, Is.LessThan(32L << 20), $"seed {seed}: resident memory grew in the second half (half way {middle}, after {after})");
            if (ProcessSockets.Visible)
                Assert.That(await ProcessSockets.Eventually(() => ProcessSockets.Open() <= sockets), Is.True, $"seed {seed}: sockets {ProcessSockets.Open()} now, {sockets} before");
            Assert.That(ProcessSockets.UdpDrops(server.Port), Is.Zero, "the campaign waits for its checks, so the server was never overloaded");
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }
    }

    private static FuzzCampaign Campaign(TestDnsServer server, int packets, int seed, bool forwarding) =>
        new() { Target = server.EndPoint, Packets = packets, Seed = seed, Forwarding = forwarding };

    internal sealed record Memory(long HeapBytes, long ResidentBytes)
    {
        public static Memory Measure()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var process = Process.GetCurrentProcess();
            return new Memory(GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
        }

        public override string ToString() => $"heap {HeapBytes / 1048576.0:F1} MiB, RSS {ResidentBytes / 1048576.0:F1} MiB";
    }
}
