using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;

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
    public async Task A_connection_takes_no_more_pipelined_queries_than_its_cap_until_one_is_answered()
    {
        using var transport = new TcpTransport(new IPEndPoint(IPAddress.Loopback, 0), new ZoneHolder(AmplificationTests.Zone()), null, new DnsHostOptions { MaxTcpQueriesPerConnection = 4 });
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(transport.LocalEndPoint);
        await TestDnsServer.SendTcpAsync(client, [.. Enumerable.Range(1, 10).Select(i => RawQuery.Build("web.default.minilb", id: (ushort)i))]);
        using var connection = (await transport.AcceptConnectionAsync())!;

        var taken = new List<DnsReceivedRawPackage>();
        for (var i = 0; i < 4; i++)
            taken.Add((await connection.ReceiveAsync().WaitAsync(TestDnsServer.Patience))!);
        var fifth = connection.ReceiveAsync();
        await Task.Delay(500);
        Assert.That(fifth.IsCompleted, Is.False, "four unanswered: the fifth query stays in the socket");

        Assert.That(await connection.SendAsync(Answer(taken[0])), Is.True);

        Assert.That((await fifth.WaitAsync(TestDnsServer.Patience))!.MessageIdentification.TransactionID, Is.EqualTo(5));
        Assert.That(await TestDnsServer.ReceiveTcpAsync(client), Is.Not.Null, "the client got the answer");
    }

    [Test]
    public async Task A_connection_ARSoft_lets_go_of_between_two_pipelined_queries_keeps_answering()
    {
        using var transport = new TcpTransport(new IPEndPoint(IPAddress.Loopback, 0), new ZoneHolder(AmplificationTests.Zone()), null, new DnsHostOptions());
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(transport.LocalEndPoint);
        await TestDnsServer.SendTcpAsync(client, [.. Enumerable.Range(1, 2).Select(i => RawQuery.Build("web.default.minilb", id: (ushort)i))]);
        var connection = (await transport.AcceptConnectionAsync())!;

        // ARSoft's DnsServer disposes a connection when its count of receives and queries in flight reaches 0: after
        // the only query in flight is answered and before its loop counts the next receive (a preempted thread).
        var first = (await connection.ReceiveAsync().WaitAsync(TestDnsServer.Patience))!;
        Assert.That(await connection.SendAsync(Answer(first)), Is.True);
        connection.Dispose();

        Assert.That(connection.CanRead, Is.True, "the client is still sending");
        var second = await connection.ReceiveAsync().WaitAsync(TestDnsServer.Patience);
        Assert.That(second?.MessageIdentification.TransactionID, Is.EqualTo(2), "the next pipelined query is read");
        Assert.That(await connection.SendAsync(Answer(second!)), Is.True);
        Assert.That(await TestDnsServer.ReceiveTcpAsync(client), Is.Not.Null, "first answer");
        Assert.That(await TestDnsServer.ReceiveTcpAsync(client), Is.Not.Null, "second answer: the connection was not cut");
        Assert.That(transport.OpenConnections, Is.EqualTo(1));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Hundreds_of_pipelined_queries_on_one_connection_are_all_answered_a_few_at_a_time(bool mixedWithFastPath)
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions { MaxTcpQueriesPerConnection = 4 });
        // TCP replays what UDP taught the fast path: then the A queries are answered inside the receive loop (keeping
        // their slot) while the AAAA ones, never taught, go to ARSoft (which frees theirs), interleaved.
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
            Assert.That(server.Host.PreparedAnswerCount, Is.EqualTo(1), "only the A answer was prepared");
    }

    [Test]
    public async Task A_connection_stuck_with_its_cap_of_unanswerable_queries_is_closed_after_the_IO_timeout()
    {
        await using var server = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions { MaxTcpQueriesPerConnection = 2, IoTimeout = TimeSpan.FromSeconds(1) });
        using var socket = await server.ConnectAsync();

        // Framing that holds together, but an additional A record with 1 byte of address: ARSoft fails to parse it
        // and answers nothing, so the query keeps its slot.
        var garbage = RawQuery.Build("web.default.minilb").Concat(new byte[] { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 10 }).ToArray();
        garbage[11] = 1; // ARCOUNT
        await TestDnsServer.SendTcpAsync(socket, garbage, garbage, RawQuery.Build("web.default.minilb"));

        Assert.That(await TestDnsServer.ReceiveTcpAsync(socket), Is.Null, "closed, not held open forever");
        Assert.That(await ProcessSockets.Eventually(() => server.Host.OpenTcpConnections == 0), Is.True);
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

    /// <summary>The query itself with QR=1: enough of an answer for the transport.</summary>
    private static DnsRawPackage Answer(DnsReceivedRawPackage query)
    {
        var message = query.ToArraySegment(true).ToArray();
        message[DnsRawPackage.LENGTH_HEADER_LENGTH + 2] |= 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(message, (ushort)(message.Length - DnsRawPackage.LENGTH_HEADER_LENGTH));
        return new DnsRawPackage(message);
    }
}
