using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Tests.Controllers;
using MiniLb.Operator.Transfer;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>NOTIFY to a fake secondary on loopback that answers when the test says so.</summary>
public class TransferNotifierTests
{
    private static readonly NotifyTiming Fast = new(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(100), 3);

    /// <summary>A UDP socket that records every NOTIFY (its SOA serial) and answers those <see cref="Answer"/> accepts.</summary>
    private sealed class FakeSecondary : IDisposable
    {
        private readonly Socket socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly CancellationTokenSource stop = new();

        public FakeSecondary()
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _ = ListenAsync();
        }

        public IPEndPoint EndPoint => (IPEndPoint)socket.LocalEndPoint!;
        public ConcurrentQueue<(ushort Id, uint Serial, string Zone)> Received { get; } = new();
        public Func<int, bool> Answer { get; set; } = _ => true;

        /// <summary>The zones answered NOTAUTH, as a secondary that does not hold them does.</summary>
        public Func<string, bool> NotAuthFor { get; set; } = _ => false;

        private async Task ListenAsync()
        {
            var buffer = new byte[1500];
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), stop.Token);
                    var message = DnsMessage.Parse(buffer[..result.ReceivedBytes]);
                    Assert.That(message.OperationCode, Is.EqualTo(OperationCode.Notify));
                    Received.Enqueue((message.TransactionID, message.AnswerRecords.OfType<SoaRecord>().Single().SerialNumber, message.Questions.Single().Name.ToString(false)));
                    if (!Answer(Received.Count))
                        continue;
                    var reply = buffer[..12];
                    reply[2] |= 0x80; // QR; ID and opcode as received, NOERROR
                    if (NotAuthFor(Received.Last().Zone))
                        reply[3] = (byte)((reply[3] & 0xF0) | (int)ReturnCode.NotAuthoritive);
                    BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(4), 0);
                    BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(6), 0);
                    BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(10), 0);
                    await socket.SendToAsync(reply, result.RemoteEndPoint);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            socket.Dispose();
        }
    }

    private static Zone Version(uint serial) => Zone.Empty(new ZoneSettings(), serial);

    private static (ZoneHolder Zones, TransferNotifier Notifier) Start(FakeSecondary secondary, ILogger? logger = null, Zone? first = null)
    {
        var zones = new ZoneHolder(first ?? Version(100));
        var transfers = new ZoneTransfers(zones, new TransferSettings { AllowFrom = [IPNetwork.Parse("127.0.0.0/8")], Notify = [secondary.EndPoint] }, NullLogger.Instance);
        return (zones, new TransferNotifier(zones, transfers, logger ?? NullLogger.Instance, timing: Fast));
    }

    [Test]
    public async Task A_burst_of_new_versions_makes_few_NOTIFYs_and_the_last_one_carries_the_newest_serial()
    {
        using var secondary = new FakeSecondary();
        var (zones, notifier) = Start(secondary);
        await using (notifier)
        {
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 1), "the NOTIFY at start");
            for (var serial = 101u; serial <= 150; serial++)
                zones.Swap(Version(serial));

            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(secondary.Received.LastOrDefault().Serial == 150), "a NOTIFY for serial 150");
            await Task.Delay(Fast.Interval * 2); // any NOTIFY still to come would arrive now

            var serials = secondary.Received.Select(r => r.Serial).ToList();
            TestContext.Out.WriteLine($"50 versions → NOTIFYs for {string.Join(", ", serials)}");
            Assert.That(serials[0], Is.EqualTo(100u), "the version at start");
            Assert.That(serials, Has.Count.LessThanOrEqualTo(3), "coalesced: at most one round per interval");
            Assert.That(serials[^1], Is.EqualTo(150u));
        }
    }

    [Test]
    public async Task A_NOTIFY_is_retried_with_the_same_id_until_the_secondary_answers()
    {
        using var secondary = new FakeSecondary { Answer = count => count >= 3 };
        var (_, notifier) = Start(secondary);
        await using (notifier)
        {
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 1), "acknowledged on the third try");

            var received = secondary.Received.ToList();
            Assert.That(received, Has.Count.EqualTo(3));
            Assert.That(received.Select(r => r.Id).Distinct().Count(), Is.EqualTo(1), "one NOTIFY, retried (RFC 1996 §3.6)");
        }
    }

    [Test]
    public async Task A_secondary_that_never_answers_is_logged_once_and_again_when_it_answers()
    {
        using var secondary = new FakeSecondary { Answer = _ => false };
        var logs = new CapturingLogger();
        var (zones, notifier) = Start(secondary, logs.CreateLogger("notify"));
        await using (notifier)
        {
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(secondary.Received.Count >= 3), "three tries of the first version");
            await Task.Delay(Fast.Timeout * 4); // the third try's wait ends
            zones.Swap(Version(101));
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(secondary.Received.Count(r => r.Serial == 101) >= 3), "three tries of the second version");
            await Task.Delay(Fast.Timeout * 4);
            var silent = logs.All.Where(l => l.Contains("did not answer NOTIFY", StringComparison.Ordinal)).ToList();

            secondary.Answer = _ => true;
            zones.Swap(Version(102));
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 1), "answers again");

            Assert.That(silent, Has.Count.EqualTo(1), string.Join("\n", logs.All));
            Assert.That(silent[0], Does.StartWith("Warning").And.Contain(secondary.EndPoint.ToString()));
            Assert.That(logs.All, Has.Some.Contains("answers NOTIFY again"));
        }
    }

    [Test]
    public async Task Each_reverse_zone_gets_its_NOTIFY_and_later_only_when_its_PTRs_changed()
    {
        using var secondary = new FakeSecondary();
        var model = ReverseZoneTransferTests.Model();
        var (zones, notifier) = Start(secondary, first: model.Publish());
        await using (notifier)
        {
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 4), "the NOTIFYs at start");
            var first = secondary.Received.Select(r => r.Zone).Order(StringComparer.Ordinal).ToList();

            model.Upsert(Slice("shop", "api", "api-4", "IPv4", Ready("10.244.1.5", "10.244.1.9"))); // a pod in node-b's /24 only
            zones.Swap(model.Publish());
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 6), "the NOTIFYs of the new version");
            await Task.Delay(Fast.Interval * 2); // any NOTIFY still to come would arrive now
            var second = secondary.Received.Skip(4).ToList();

            TestContext.Out.WriteLine($"at start: {string.Join(", ", first)}; after a pod in 10.244.1.0/24: {string.Join(", ", second.Select(r => r.Zone))}");
            Assert.That(first, Is.EqualTo(new[]
            {
                "1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa", "1.244.10.in-addr.arpa", "244.10.in-addr.arpa", "minilb",
            }), "the forward zone and every reverse zone");
            Assert.That(second.Select(r => r.Zone).Order(StringComparer.Ordinal), Is.EqualTo(new[] { "1.244.10.in-addr.arpa", "minilb" }),
                "the /16 around it and the IPv6 zone did not change");
            Assert.That(second.Select(r => r.Serial), Has.All.EqualTo(zones.Current.Serial));
        }
    }

    [Test]
    public async Task A_secondary_holding_only_the_forward_zone_is_warned_about_once_per_reverse_zone()
    {
        using var secondary = new FakeSecondary { NotAuthFor = zone => zone.EndsWith(".arpa", StringComparison.Ordinal) };
        var logs = new CapturingLogger();
        var model = ReverseZoneTransferTests.Model();
        var (zones, notifier) = Start(secondary, logs.CreateLogger("notify"), model.Publish());
        await using (notifier)
        {
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 4), "the NOTIFYs at start");
            model.Upsert(Slice("shop", "api", "api-6", "IPv6", Ready("fd00:10:244:1::7", "fd00:10:244:1::8")));
            zones.Swap(model.Publish());
            model.Upsert(Slice("shop", "api", "api-4", "IPv4", Ready("10.244.1.5", "10.244.1.9")));
            await Task.Delay(Fast.Interval * 2);
            zones.Swap(model.Publish());
            await OperatorFixture.WaitUntilAsync(() => Task.FromResult(notifier.Acknowledged == 8), "the NOTIFYs of two more versions");

            var warnings = logs.All.Where(l => l.StartsWith("Warning", StringComparison.Ordinal)).ToList();
            TestContext.Out.WriteLine(string.Join("\n", warnings));
            Assert.That(warnings, Has.Count.EqualTo(3), "one per reverse zone, not one per version");
            Assert.That(warnings, Has.All.Contains("NotAuthoritive").And.Contains(".arpa"));
            Assert.That(logs.All, Has.None.Contains("did not answer").Or.Contains("answers NOTIFY again"), "the secondary answers: it is not silent");
        }
    }
}
