using System.Diagnostics;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>What a hostile or sloppy TCP client cannot do: pile up sockets, or queue unbounded work on one connection.</summary>
public class TcpLimitsTests
{
    [Test]
    public async Task Ten_thousand_connections_opened_and_closed_leave_the_socket_count_at_its_baseline()
    {
        ProcessSockets.IgnoreUnlessVisible();
        await using var server = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions { IoTimeout = TimeSpan.FromSeconds(2) });
        var baseline = ProcessSockets.Open();
        const int connections = 10_000;
        var answered = 0;
        var clock = Stopwatch.StartNew();

        // Four kinds of client, 32 at a time: one query then close; close at once; close halfway through a
        // query; reset (RST) without a FIN.
        await Parallel.ForAsync(0, connections, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            using var socket = await server.ConnectAsync();
            var query = RawQuery.Build("web.default.minilb", id: (ushort)i);
            switch (i % 4)
            {
                case 0:
                    await TestDnsServer.SendTcpAsync(socket, query);
                    if (await TestDnsServer.ReceiveTcpAsync(socket) is not null)
                        Interlocked.Increment(ref answered);
                    socket.Shutdown(SocketShutdown.Both);
                    break;
                case 1:
                    socket.Shutdown(SocketShutdown.Both);
                    break;
                case 2:
                    await socket.SendAsync(new byte[] { 0, (byte)query.Length }.Concat(query[..(query.Length / 2)]).ToArray(), ct);
                    socket.Shutdown(SocketShutdown.Both);
                    break;
                default:
                    socket.LingerState = new LingerOption(true, 0);
                    break;
            }
        });
        var elapsed = clock.Elapsed;

        Assert.That(answered, Is.EqualTo(connections / 4), "every client that asked got its answer");
        Assert.That(await ProcessSockets.Eventually(() => server.Host.OpenTcpConnections == 0), Is.True, $"{server.Host.OpenTcpConnections} connections still open");
        Assert.That(await ProcessSockets.Eventually(() => ProcessSockets.Open() <= baseline), Is.True, $"sockets: {ProcessSockets.Open()} now, {baseline} before");
        Assert.That(ProcessSockets.Tcp(server.Port, ProcessSockets.Established, ProcessSockets.CloseWait), Is.Zero, "no server socket left ESTABLISHED or in CLOSE-WAIT");
        TestContext.Out.WriteLine($"{connections} connections in {elapsed.TotalSeconds:F1} s ({connections / elapsed.TotalSeconds:F0}/s); sockets before {baseline}, after {ProcessSockets.Open()}");
    }

    [Test]
    public async Task Pipelined_queries_are_answered_in_the_order_asked_one_at_a_time()
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone());
        using var socket = await server.ConnectAsync();

        // A connection reads its next query only after writing the last answer: one query's work at a time, the
        // rest wait in the client's socket (back-pressure), and answers keep the order (RFC 7766 §6.2.1.1 allows either).
        await TestDnsServer.SendTcpAsync(socket, [.. Enumerable.Range(1, 10).Select(i => RawQuery.Build(i % 2 == 0 ? "big.default.minilb" : "web.default.minilb", id: (ushort)i))]);
        var ids = new List<int>();
        for (var i = 0; i < 10; i++)
            ids.Add(DnsMessage.Parse((await TestDnsServer.ReceiveTcpAsync(socket))!).TransactionID);

        Assert.That(ids, Is.EqualTo(Enumerable.Range(1, 10)));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Hundreds_of_pipelined_queries_on_one_connection_are_all_answered_a_few_at_a_time(bool mixedWithFastPath)
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone());
        // TCP replays what UDP taught the fast path: then the A queries are replayed while the first AAAA one, never
        // taught, takes the slow path and teaches the fast path the others, interleaved.
        if (mixedWithFastPath)
            Assert.That(await server.UdpAsync(RawQuery.Build("web.default.minilb")), Is.Not.Null);
        RecordType TypeOf(int id) => mixedWithFastPath && id % 2 == 0 ? RecordType.Aaaa : RecordType.A;
        using var socket = await server.ConnectAsync();

        var sending = TestDnsServer.SendTcpAsync(socket, [.. Enumerable.Range(1, 500).Select(i => RawQuery.Build("web.default.minilb", TypeOf(i), id: (ushort)i))]);
        var ids = new HashSet<int>();
        for (var i = 0; i < 500; i++)
        {
            var reply = await TestDnsServer.ReceiveTcpAsync(socket);
            Assert.That(reply, Is.Not.Null, $"reply {i + 1} of 500");
            var message = DnsMessage.Parse(reply!);
            Assert.That(message.AnswerRecords, Has.Count.EqualTo(TypeOf(message.TransactionID) == RecordType.A ? 3 : 0));
            ids.Add(message.TransactionID);
        }
        await sending;

        Assert.That(ids, Has.Count.EqualTo(500));
        if (mixedWithFastPath)
            Assert.That(server.Host.PreparedAnswerCount, Is.EqualTo(2), "the A answer UDP taught, and the AAAA answer TCP taught");
    }

    [Test]
    public async Task A_query_ARSoft_cannot_read_gets_FORMERR_and_the_connection_keeps_answering()
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone());
        using var socket = await server.ConnectAsync();

        // Framing that holds together, but an additional A record with 1 byte of address: ARSoft fails to parse it.
        var garbage = RawQuery.Build("web.default.minilb", id: 7).Concat(new byte[] { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 10 }).ToArray();
        garbage[11] = 1; // ARCOUNT
        await TestDnsServer.SendTcpAsync(socket, garbage, RawQuery.Build("web.default.minilb", id: 8));

        var formErr = DnsMessage.Parse((await TestDnsServer.ReceiveTcpAsync(socket))!);
        Assert.That((formErr.TransactionID, formErr.ReturnCode), Is.EqualTo(((ushort)7, ReturnCode.FormatError)));
        var answer = DnsMessage.Parse((await TestDnsServer.ReceiveTcpAsync(socket))!);
        Assert.That((answer.TransactionID, answer.ReturnCode, answer.AnswerRecords.Count), Is.EqualTo(((ushort)8, ReturnCode.NoError, AmplificationTests.WebAddresses.Length)));
    }

    [Test]
    public async Task A_client_trickling_a_query_byte_by_byte_is_cut_off_after_the_IO_timeout()
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions { IoTimeout = TimeSpan.FromSeconds(1) });
        using var socket = await server.ConnectAsync();
        var query = RawQuery.Build("web.default.minilb");
        byte[] framed = [0, (byte)query.Length, .. query];
        var clock = Stopwatch.StartNew();

        // One byte every 200 ms would take 8 s for this query; the server gives one query 1 s to arrive.
        var sent = 0;
        try
        {
            for (; sent < framed.Length && clock.Elapsed < TestDnsServer.Patience; sent++)
            {
                await socket.SendAsync(framed.AsMemory(sent, 1));
                await Task.Delay(200);
            }
        }
        catch (SocketException)
        {
            // the server has closed the connection
        }

        Assert.That(await ProcessSockets.Eventually(() => server.Host.OpenTcpConnections == 0), Is.True, "slow-loris connection closed");
        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Null, "and never answered");
        Assert.That(sent, Is.LessThan(framed.Length), $"cut off after {clock.Elapsed.TotalSeconds:F1} s, before the whole query arrived");
    }
}
