using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Tests.Dns.Fuzzing;

/// <summary>What a campaign sent and what went wrong.</summary>
internal sealed record FuzzReport(long UdpPackets, long TcpPackets, long Checks, long TcpClosedByServer, TimeSpan Elapsed, TimeSpan UdpElapsed, TimeSpan TcpElapsed,
    IReadOnlyList<string> Failures, IReadOnlyDictionary<string, long> Kinds)
{
    public long Packets => UdpPackets + TcpPackets;

    /// <summary>Two runs, one after the other, as one.</summary>
    public FuzzReport Add(FuzzReport next) => new(
        UdpPackets + next.UdpPackets, TcpPackets + next.TcpPackets, Checks + next.Checks, TcpClosedByServer + next.TcpClosedByServer,
        Elapsed + next.Elapsed, UdpElapsed + next.UdpElapsed, TcpElapsed + next.TcpElapsed, [.. Failures, .. next.Failures],
        Kinds.Keys.Union(next.Kinds.Keys).ToDictionary(k => k, k => Kinds.GetValueOrDefault(k) + next.Kinds.GetValueOrDefault(k)));
    public double PacketsPerSecond => Packets / Elapsed.TotalSeconds;
}

/// <summary>
/// Sends hostile packets over UDP and TCP to a DNS server on loopback, and between them well-formed queries whose
/// answers are known; every one of those must be answered correctly. Paced by the checks (a worker waits for each
/// answer), so the server is busy but never overloaded: a lost check is a failure, not load shedding.
/// </summary>
internal sealed class FuzzCampaign
{
    public required IPEndPoint Target { get; init; }
    public required int Packets { get; init; }
    public required int Seed { get; init; }
    public int UdpWorkers { get; init; } = 3;
    public int TcpWorkers { get; init; } = 2;
    /// <summary>Hostile datagrams between two checks on one UDP worker.</summary>
    public int GarbagePerCheck { get; init; } = 16;
    /// <summary>Share of the packets sent over TCP (connections are slower to make than datagrams to send).</summary>
    public double TcpShare { get; init; } = 0.15;
    public TimeSpan Patience { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The server forwards outside names to <see cref="Forwarding.Upstreams.Resolver"/>: checks expect its answers.</summary>
    public bool Forwarding { get; init; }

    private readonly ConcurrentQueue<string> failures = new();
    private readonly ConcurrentDictionary<string, long> kinds = new();
    private readonly ConcurrentBag<Task> lingering = [];
    private long udpPackets, tcpPackets, checks, tcpClosedByServer;

    /// <summary>A well-formed query and what its answer must be (null: correct).</summary>
    private sealed record Check(byte[] Query, Func<DnsMessage, bool, string?> Problem);

    public async Task<FuzzReport> RunAsync(CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        var tcpPackets = (int)(Packets * TcpShare);
        var udpPerWorker = (Packets - tcpPackets) / UdpWorkers;
        var tcpPerWorker = tcpPackets / Math.Max(1, TcpWorkers);
        var udp = Task.WhenAll(Enumerable.Range(0, UdpWorkers).Select(w => Task.Run(() => UdpWorkerAsync(new Random(Seed * 31 + w), udpPerWorker, ct), ct)));
        var tcp = Task.WhenAll(Enumerable.Range(0, TcpWorkers).Select(w => Task.Run(() => TcpWorkerAsync(new Random(Seed * 31 + 1000 + w), tcpPerWorker, ct), ct)));
        var udpElapsed = Elapsed(udp, clock);
        var tcpElapsed = Elapsed(tcp, clock);
        await Task.WhenAll(udp, tcp);
        await Task.WhenAll(lingering);
        return new FuzzReport(udpPackets, this.tcpPackets, checks, tcpClosedByServer, clock.Elapsed, await udpElapsed, await tcpElapsed, [.. failures], new Dictionary<string, long>(kinds));
    }

    private static async Task<TimeSpan> Elapsed(Task task, Stopwatch clock)
    {
        await task;
        return clock.Elapsed;
    }

    private Check NextCheck(Random random)
    {
        var id = (ushort)random.Next(65536);
        return random.Next(7) switch
        {
            // 10.244.0.11 backs both web and big: its PTR RRset names both Services.
            6 => new(RawQuery.Build("11.0.244.10.in-addr.arpa", RecordType.Ptr, id: id), (m, _) =>
                m.ReturnCode != ReturnCode.NoError || !m.AnswerRecords.OfType<PtrRecord>().Select(r => r.PointerDomainName.ToString()).ToHashSet()
                    .SetEquals(["big.default.minilb.", "web.default.minilb."])
                    ? $"expected the PTRs big.default.minilb and web.default.minilb, got {m.ReturnCode} with {string.Join(", ", m.AnswerRecords)}" : null),
            0 => new(RawQuery.Build("web.default.minilb", id: id), (m, _) => Addresses(m, AmplificationTests.WebAddresses, exact: true)),
            1 => new(RawQuery.Build("WeB.DeFaUlT.MiNiLb", id: id, edns: new RawQuery.Edns()), (m, _) =>
                m.Questions.Single().Name.ToString() != "WeB.DeFaUlT.MiNiLb." ? $"question not echoed byte for byte: {m.Questions.Single().Name}"
                : Addresses(m, AmplificationTests.WebAddresses, exact: true)),
            2 => new(RawQuery.Build("nothing.default.minilb", id: id), (m, _) =>
                m.ReturnCode != ReturnCode.NxDomain || !m.AuthorityRecords.OfType<SoaRecord>().Any() ? $"expected NXDOMAIN with SOA, got {m.ReturnCode}" : null),
            3 => new(RawQuery.Build("web.default.minilb", RecordType.Aaaa, id: id), (m, _) =>
                m.ReturnCode != ReturnCode.NoError || m.AnswerRecords.Count != 0 ? $"expected NODATA, got {m.ReturnCode} with {m.AnswerRecords.Count} answers" : null),
            // Hostile packets that read as outside names are forwarded too; beyond the in-flight limit the forwarder sheds
            // load with SERVFAIL, a correct answer under a flood (counted, not a failure).
            4 when Forwarding => new(RawQuery.Build("WwW.eXaMpLe.TeSt", id: id, recursionDesired: true), (m, _) =>
                !m.IsRecursionAllowed || m.IsAuthoritiveAnswer ? $"expected a forwarded answer (RA, no AA), got RA={m.IsRecursionAllowed} AA={m.IsAuthoritiveAnswer}"
                : m.Questions.Single().Name.ToString() != "WwW.eXaMpLe.TeSt." ? $"question not echoed byte for byte: {m.Questions.Single().Name}"
                : m.ReturnCode == ReturnCode.ServerFailure && m.AnswerRecords.Count == 0 ? Shed()
                : m.ReturnCode != ReturnCode.NoError ? $"expected a forwarded NOERROR or SERVFAIL, got {m.ReturnCode}"
                : !m.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()).ToHashSet().SetEquals(MiniLb.Operator.Tests.Forwarding.Upstreams.WwwAddresses) ? "wrong forwarded addresses"
                : Forwarded()),
            4 => new(RawQuery.Build("example.com", id: id, recursionDesired: true), (m, _) =>
                m.ReturnCode != ReturnCode.Refused || m.IsRecursionAllowed ? $"expected REFUSED without RA, got {m.ReturnCode} RA={m.IsRecursionAllowed}" : null),
            _ => new(RawQuery.Build("big.default.minilb", id: id, edns: new RawQuery.Edns(Size: 1232)), (m, tcp) =>
                Addresses(m, AmplificationTests.BigAddresses, exact: tcp)),
        };
    }

    private string? Shed()
    {
        kinds.AddOrUpdate("check forwarded: SERVFAIL (load shed)", 1, (_, n) => n + 1);
        return null;
    }

    private string? Forwarded()
    {
        kinds.AddOrUpdate("check forwarded: answered", 1, (_, n) => n + 1);
        return null;
    }

    private static string? Addresses(DnsMessage message, string[] expected, bool exact)
    {
        if (message.ReturnCode != ReturnCode.NoError || !message.IsAuthoritiveAnswer)
            return $"expected an authoritative NOERROR, got {message.ReturnCode} AA={message.IsAuthoritiveAnswer}";
        var got = message.AnswerRecords.OfType<ARecord>().Select(a => a.Address.ToString()).ToHashSet();
        if (exact ? !got.SetEquals(expected) : got.Count == 0 || !got.IsSubsetOf(expected) || !message.IsTruncated)
            return $"wrong addresses ({got.Count}, TC={message.IsTruncated}): {string.Join(' ', got.Take(5))}";
        return null;
    }

    private void Fail(string message)
    {
        if (failures.Count < 50)
            failures.Enqueue(message);
    }

    private async Task UdpWorkerAsync(Random random, int quota, CancellationToken ct)
    {
        var packets = new HostilePackets(random);
        using var garbage = new Socket(Target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        using var checker = new Socket(Target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        garbage.Connect(Target);
        checker.Connect(Target);
        var buffer = new byte[ushort.MaxValue];
        for (var sent = 0; sent < quota && !ct.IsCancellationRequested;)
        {
            for (var i = 0; i < GarbagePerCheck && sent < quota; i++, sent++)
            {
                garbage.Send(packets.Next());
                Count(packets);
                Interlocked.Increment(ref udpPackets);
            }
            var check = NextCheck(random);
            await checker.SendAsync(check.Query, ct);
            var reply = await ReceiveMatchingAsync(checker, check.Query, buffer, ct);
            Verify("UDP", check, reply, tcp: false);
        }
    }

    /// <summary>The UDP reply with the query's ID; replies to checks given up on earlier are skipped.</summary>
    private async Task<byte[]?> ReceiveMatchingAsync(Socket socket, byte[] query, byte[] buffer, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Patience);
        try
        {
            while (true)
            {
                var count = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (count >= 2 && buffer[0] == query[0] && buffer[1] == query[1])
                    return buffer[..count];
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private void Verify(string transport, Check check, byte[]? reply, bool tcp)
    {
        Interlocked.Increment(ref checks);
        var question = DnsMessage.Parse(check.Query).Questions[0];
        if (reply is null)
        {
            Fail($"{transport}: no answer to {question}");
            return;
        }
        try
        {
            var message = DnsMessage.Parse(reply);
            if (check.Problem(message, tcp) is { } problem)
                Fail($"{transport}: {question}: {problem}");
        }
        catch (Exception e)
        {
            Fail($"{transport}: {question}: unreadable answer: {e.Message}");
        }
    }

    private void Count(HostilePackets packets) => kinds.AddOrUpdate(HostilePackets.Kinds[packets.LastKind], 1, (_, n) => n + 1);

    private async Task TcpWorkerAsync(Random random, int quota, CancellationToken ct)
    {
        var packets = new HostilePackets(random);
        var sent = 0;
        while (sent < quota && !ct.IsCancellationRequested)
        {
            var session = random.Next(100);
            if (session < 70)
                sent += await GarbageThenCheckAsync(random, packets, ct);
            else
                sent += await LyingFrameAsync(random, packets, session, ct);
        }
        Interlocked.Add(ref tcpPackets, sent);
    }

    /// <summary>Well-framed hostile messages, then a check on the same connection.</summary>
    private async Task<int> GarbageThenCheckAsync(Random random, HostilePackets packets, CancellationToken ct)
    {
        var count = random.Next(1, 9);
        var check = NextCheck(random);
        using (var socket = await ConnectAsync(ct))
        {
            var frames = new byte[count][];
            for (var i = 0; i < count; i++)
            {
                frames[i] = packets.Next();
                Count(packets);
            }
            // A hostile frame that is a mutated copy of a query may carry the check's ID and question; its answer
            // (REFUSED for a wrong class, say) must not be read as the check's. The check takes an ID no frame uses.
            var id = BinaryPrimitives.ReadUInt16BigEndian(check.Query);
            while (frames.Any(f => f.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(f) == id))
                id++;
            BinaryPrimitives.WriteUInt16BigEndian(check.Query, id);
            await TestDnsServer.SendTcpAsync(socket, [.. frames, check.Query]);
            for (var replies = 0; replies <= count; replies++)
            {
                var reply = await TestDnsServer.ReceiveTcpAsync(socket, Patience);
                if (reply is null)
                    break; // the server may close a connection that sent nonsense (RFC 7766 §6.2.4 lets it)
                if (reply.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(reply) == id && reply.Length > 12 && reply.AsSpan(12).StartsWith(check.Query.AsSpan(12, 5)))
                {
                    Verify("TCP", check, reply, tcp: true);
                    socket.Shutdown(SocketShutdown.Both);
                    return count + 1;
                }
            }
        }
        // Closed before the check was answered: a real client would retry on a new connection, and that must work.
        Interlocked.Increment(ref tcpClosedByServer);
        using var retry = await ConnectAsync(ct);
        await TestDnsServer.SendTcpAsync(retry, check.Query);
        Verify("TCP (new connection)", check, await TestDnsServer.ReceiveTcpAsync(retry, Patience), tcp: true);
        return count + 1;
    }

    /// <summary>Length prefixes that lie: longer than what follows, shorter (the rest is read as the next frame), or cut off.</summary>
    private async Task<int> LyingFrameAsync(Random random, HostilePackets packets, int session, CancellationToken ct)
    {
        var message = packets.Seed();
        var socket = await ConnectAsync(ct);
        try
        {
            byte[] bytes = session switch
            {
                < 80 => [0, (byte)Math.Min(255, message.Length + random.Next(1, 100)), .. message],  // longer than what follows
                < 88 => [0, (byte)random.Next(0, message.Length), .. message, .. message],            // shorter
                < 95 => [(byte)random.Next(256)],                                                     // half a prefix
                _ => [0, (byte)message.Length, .. message[..random.Next(message.Length)]],           // stops mid-message and stays open
            };
            kinds.AddOrUpdate(session switch
            {
                < 80 => "TCP length longer than the message",
                < 88 => "TCP length shorter than the message",
                < 95 => "TCP half a length",
                _ => "TCP stopped mid-message, left open",
            }, 1, (_, n) => n + 1);
            await socket.SendAsync(bytes, ct);
            if (session >= 95)
            {
                // The server must give up on the rest after its I/O timeout; wait for that in the background.
                lingering.Add(ExpectCloseAsync(socket));
                socket = null;
                return 1;
            }
            socket.Shutdown(SocketShutdown.Send);
            while (await TestDnsServer.ReceiveTcpAsync(socket, Patience) is not null)
            {
                // answers to whatever the lie made readable; then the server must close
            }
            return 1;
        }
        finally
        {
            socket?.Dispose();
        }
    }

    private async Task ExpectCloseAsync(Socket socket)
    {
        using (socket)
        {
            var clock = Stopwatch.StartNew();
            if (await TestDnsServer.ReceiveTcpAsync(socket, Patience + Patience) is not null || clock.Elapsed > Patience + Patience - TimeSpan.FromSeconds(1))
                Fail("TCP: a connection stopped mid-message was not closed by the server");
        }
    }

    private async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        var socket = new Socket(Target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(Target, ct);
        return socket;
    }
}
