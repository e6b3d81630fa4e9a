using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Tests.Controllers;
using MiniLb.Operator.Tests.EndToEnd;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>
/// The NativeAOT <c>serve</c> answers the queries that take the slow path (ARSoft parses them and builds the response)
/// without mapping OpenSSL: ARSoft draws a random ID for every message it builds, and .NET's random source on Linux
/// is OpenSSL, whose libraries cost <c>serve</c> 3.7 MiB of RSS (docs/benchmarks.md, "Where the time and the memory go").
/// Nor do the messages whose IDs must not be guessable: NOTIFY and forwarded queries.
/// </summary>
public sealed class AotServeWithoutOpenSslTests
{
    [Test]
    public async Task Serve_answers_slow_path_queries_with_no_libssl_or_libcrypto_mapped()
    {
        var port = OperatorFixture.FreePort();
        await using var serve = AotBinary.Start("serve", "--snapshot", AotBinary.RepositoryFile("config/samples/cluster-snapshot.yaml"),
            "--listen", $"127.0.0.1:{port}");
        await serve.WaitForOutputAsync("Press Ctrl-C to stop.");
        var name = AotBinary.ServedNames(serve.Output).First();
        var server = new IPEndPoint(IPAddress.Loopback, port);

        (string Query, byte[] Wire, ReturnCode Expected)[] queries =
        [
            ("A", RawQuery.Build(name, RecordType.A, id: 0x0101), ReturnCode.NoError),
            ("TXT (no data)", RawQuery.Build(name, RecordType.Txt, id: 0x0202), ReturnCode.NoError),
            ("apex SOA", RawQuery.Build("minilb", RecordType.Soa, id: 0x0303), ReturnCode.NoError),
            ("ANY", RawQuery.Build(name, RecordType.Any, id: 0x0404), ReturnCode.NoError),
            ("EDNS A", RawQuery.Build(name, RecordType.A, id: 0x0505, edns: new RawQuery.Edns()), ReturnCode.NoError),
            ("NXDOMAIN", RawQuery.Build("no-such-service.default.minilb", RecordType.A, id: 0x0606), ReturnCode.NxDomain),
        ];
        foreach (var (query, wire, expected) in queries)
        {
            var reply = await ExchangeAsync(server, wire);
            Assert.That(reply, Is.Not.Null, $"{query}: no answer from serve");
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(reply), Is.EqualTo(BinaryPrimitives.ReadUInt16BigEndian(wire)), $"{query}: the query's ID");
            Assert.That((ReturnCode)(reply![3] & 0x0f), Is.EqualTo(expected), query);
        }

        TestContext.Out.WriteLine($"AOT serve after {queries.Length} slow-path queries: RSS {serve.ResidentBytes() / 1048576.0:0.0} MiB");
        await AssertNoOpenSslAsync(serve);
        Assert.That(await serve.StopAsync(), Is.Zero, serve.Error);
    }

    [Test]
    public async Task Serve_sends_NOTIFY_and_forwards_queries_with_no_libssl_or_libcrypto_mapped()
    {
        // The IDs minilb matches answers by (RFC 5452 §9.2) come from getrandom(2) too: a secondary and an upstream
        // (on 127.0.0.2: a client at an upstream's address is refused) that answer whatever they are sent.
        using var stop = new CancellationTokenSource();
        using var secondary = Echo(IPAddress.Loopback, stop.Token, out var notified);
        using var upstream = Echo(IPAddress.Parse("127.0.0.2"), stop.Token, out var forwarded);
        var port = OperatorFixture.FreePort();
        await using var serve = AotBinary.Start("serve", "--snapshot", AotBinary.RepositoryFile("config/samples/cluster-snapshot.yaml"),
            "--listen", $"127.0.0.1:{port}", "--transfer-allow-from", "127.0.0.1/32", "--notify", secondary.LocalEndPoint!.ToString()!,
            "--upstream", upstream.LocalEndPoint!.ToString()!, "--forward-allow", "127.0.0.1");
        await serve.WaitForOutputAsync("Press Ctrl-C to stop.");

        var notify = await notified.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That((notify[2] >> 3) & 0x0f, Is.EqualTo((int)OperationCode.Notify), "the secondary got a NOTIFY");
        var reply = await ExchangeAsync(new IPEndPoint(IPAddress.Loopback, port), RawQuery.Build("www.example.test", id: 0x0707, recursionDesired: true));
        Assert.That(reply, Is.Not.Null, "no answer to the forwarded query");
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(reply), Is.EqualTo(0x0707), "relayed with the client's ID");
        Assert.That(RawQuery.QuestionSection(await forwarded.Task.WaitAsync(TimeSpan.FromSeconds(5))), Is.EqualTo(RawQuery.QuestionSection(reply!)),
            "the upstream was asked the client's question");

        await AssertNoOpenSslAsync(serve);
        await stop.CancelAsync();
        Assert.That(await serve.StopAsync(), Is.Zero, serve.Error);
    }

    private static async Task AssertNoOpenSslAsync(AotBinary serve)
    {
        var maps = await File.ReadAllLinesAsync($"/proc/{serve.Id}/maps");
        var openSsl = maps.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1])
            .Where(path => path.Contains("libssl", StringComparison.Ordinal) || path.Contains("libcrypto", StringComparison.Ordinal)).Distinct().ToList();
        Assert.That(openSsl, Is.Empty, "serve needs no cryptography: OpenSSL must not be mapped");
        Assert.That(maps, Has.Some.Contains("libc.so"), "the check reads the libraries minilb maps");
    }

    /// <summary>A UDP server on <paramref name="address"/> that answers every message with itself, QR set; <paramref name="first"/> is the first one it got.</summary>
    private static Socket Echo(IPAddress address, CancellationToken ct, out TaskCompletionSource<byte[]> first)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        var received = first = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            var buffer = new byte[1232];
            try
            {
                while (true)
                {
                    var from = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(address, 0), ct);
                    var message = buffer[..from.ReceivedBytes];
                    received.TrySetResult(message.ToArray());
                    message[2] |= 0x80;
                    await socket.SendToAsync(message, SocketFlags.None, from.RemoteEndPoint, ct);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }, ct);
        return socket;
    }

    /// <summary>One query over UDP; null when no answer came in three tries of a second (a loaded machine may drop one).</summary>
    private static async Task<byte[]?> ExchangeAsync(IPEndPoint server, byte[] query)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Connect(server);
        var buffer = new byte[1232];
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await socket.SendAsync(query, SocketFlags.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                return buffer[..await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)];
            }
            catch (OperationCanceledException)
            {
            }
        }
        return null;
    }
}
