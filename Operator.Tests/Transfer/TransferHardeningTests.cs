using System.Diagnostics;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>Transfers enabled for loopback, and clients that misbehave: the server keeps answering and frees what they held.</summary>
public class TransferHardeningTests
{
    private static readonly ZoneHolder Zones = new(ZoneTransferTests.Model(webAddresses: 20_000).Publish());

    private static DnsHost Start() => DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), Zones, options: new DnsHostOptions
    {
        Transfer = ZoneTransferTests.Allow("127.0.0.0/8"),
        IoTimeout = TimeSpan.FromSeconds(1),
        TcpIdleTimeout = TimeSpan.FromSeconds(2),
    });

    [Test]
    public async Task Clients_that_ask_for_transfers_and_never_read_hold_slots_and_connections_only_for_a_while()
    {
        await using var host = Start();
        var stuck = new List<Socket>();
        for (var i = 0; i < ZoneTransfers.MaxConcurrent + 2; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(host.EndPoints[0]);
            await TransferClient.SendAsync(socket, ZoneTransferTests.Wire(ZoneTransferTests.Query(RecordType.Axfr)));
            stuck.Add(socket);
        }
        var clock = Stopwatch.StartNew();

        // Meanwhile ordinary questions are answered.
        var answer = await TransferClient.OverUdpAsync(host, ZoneTransferTests.Query(RecordType.A, "web.default.minilb"));
        Assert.That(answer?.AnswerRecords, Is.Not.Empty);
        var peak = 0;
        // Not "a transfer was seen running": on loopback the kernel's send buffer can take a whole transfer before the
        // first poll, and the transfer then ends from the server's side at once.
        await OperatorFixtureWait(() =>
        {
            peak = Math.Max(peak, host.Transfers.Running);
            return host.Transfers.Running == 0 && host.OpenTcpConnections == 0;
        }, "the transfers end (written, or timed out) and the idle connections close", TimeSpan.FromSeconds(30));
        Assert.That(stuck.Select(s => s.Available), Has.All.GreaterThan(0), "every client was answered (a transfer, or SERVFAIL beyond the limit) before its connection closed");
        TestContext.Out.WriteLine($"{stuck.Count} clients that never read: {peak} transfer(s) ran at once; all slots free and connections closed after {clock.Elapsed.TotalMilliseconds:0} ms (I/O timeout 1 s, idle timeout 2 s)");
        Assert.That(peak, Is.LessThanOrEqualTo(ZoneTransfers.MaxConcurrent));
        using var reader = await TransferClient.ConnectAsync(host);
        clock.Restart();
        var transfer = await TransferClient.TransferAsync(reader, ZoneTransferTests.Query(RecordType.Axfr));
        TestContext.Out.WriteLine($"then a whole transfer: {transfer.Sum(m => m.AnswerRecords.Count)} records in {transfer.Count} messages, {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.That(transfer.Sum(m => m.AnswerRecords.Count), Is.EqualTo(ZoneTransfer.Records(Zones.Current).Count), "a reading client gets the whole zone afterwards");
        stuck.ForEach(s => s.Dispose());
    }

    [Test]
    public async Task Mangled_transfer_queries_from_an_allowed_client_crash_nothing()
    {
        await using var host = Start();
        var random = new Random(1313);
        var seeds = new[] { RecordType.Axfr, RecordType.Ixfr }
            .Select(t => ZoneTransferTests.Wire(ZoneTransferTests.Query(t, clientSerial: t == RecordType.Ixfr ? 7 : null))).ToArray();
        var unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, _) => Interlocked.Increment(ref unobserved);
        TaskScheduler.UnobservedTaskException += onUnobserved;
        var replies = 0;
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var packet = Mangle(seeds[random.Next(seeds.Length)], random);
                using var socket = await TransferClient.ConnectAsync(host);
                await TransferClient.SendAsync(socket, packet);
                socket.Shutdown(SocketShutdown.Send); // the server answers what it got, then closes on our FIN
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                // Whatever comes back (a transfer, FORMERR, REFUSED, nothing) comes as whole DNS messages.
                while (await TransferClient.ReadFramedAsync(socket, timeout.Token) is { } reply)
                {
                    replies++;
                    Assert.That(reply.Length, Is.GreaterThanOrEqualTo(12), "a whole DNS header at least");
                }
            }
            TestContext.Out.WriteLine($"300 mangled AXFR/IXFR queries: {replies} messages back");
            GC.Collect();
            GC.WaitForPendingFinalizers();

            using var reader = await TransferClient.ConnectAsync(host);
            var transfer = await TransferClient.TransferAsync(reader, ZoneTransferTests.Query(RecordType.Axfr));
            Assert.That(transfer.Sum(m => m.AnswerRecords.Count), Is.EqualTo(ZoneTransfer.Records(Zones.Current).Count));
            await OperatorFixtureWait(() => host.Transfers.Running == 0, "every transfer slot is free again");
            Assert.That(unobserved, Is.Zero, "unobserved task exceptions");
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }
    }

    /// <summary>Flips a few bytes, or cuts or extends the message: framing stays (the TCP length prefix is right).</summary>
    private static byte[] Mangle(byte[] seed, Random random)
    {
        var packet = random.Next(4) switch
        {
            0 => seed[..random.Next(seed.Length)],
            1 => [.. seed, .. Enumerable.Range(0, random.Next(1, 40)).Select(_ => (byte)random.Next(256))],
            _ => (byte[])seed.Clone(),
        };
        for (var flips = random.Next(1, 4); flips > 0 && packet.Length > 0; flips--)
            packet[random.Next(packet.Length)] = (byte)random.Next(256);
        return packet;
    }

    private static Task OperatorFixtureWait(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        OperatorFixture.WaitUntilAsync(() => Task.FromResult(condition()), what, timeout);
}
