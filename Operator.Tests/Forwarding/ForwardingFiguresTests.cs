using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary>
/// What forwarding costs a client, printed, not asserted (figures depend on the machine): sequential UDP queries
/// straight to the upstream, through minilb's forwarder, and for minilb's own names. docs/hardening.md quotes them.
/// </summary>
public class ForwardingFiguresTests
{
    private const int Queries = 2000;

    [Test]
    public async Task Latency_of_a_forwarded_query_against_asking_the_upstream_directly()
    {
        await using var upstream = Upstreams.Resolver();
        await using var minilb = TestDnsServer.Start(AmplificationTests.Zone(), new DnsHostOptions
        {
            Forwarding = new ForwardingSettings { Upstreams = [upstream.EndPoint] },
        });

        var direct = await MeasureAsync(upstream.EndPoint, "www.example.test");
        var forwarded = await MeasureAsync(minilb.EndPoint, "www.example.test");
        var own = await MeasureAsync(minilb.EndPoint, "web.default.minilb");

        TestContext.Out.WriteLine($"{Queries} sequential UDP queries each: upstream directly {direct}; forwarded by minilb {forwarded}; minilb's own name {own}");
        Assert.That(new[] { direct.Answered, forwarded.Answered, own.Answered }, Is.All.EqualTo(Queries));
    }

    private sealed record Figures(int Answered, double MedianMicroseconds, double P99Microseconds)
    {
        public override string ToString() => $"median {MedianMicroseconds:F0} µs, p99 {P99Microseconds:F0} µs";
    }

    private static async Task<Figures> MeasureAsync(IPEndPoint server, string name)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(server);
        var buffer = new byte[4096];
        var times = new List<double>();
        for (var i = 0; i < Queries + 200; i++)
        {
            var id = (ushort)i;
            var clock = Stopwatch.StartNew();
            await socket.SendAsync(RawQuery.Build(name, id: id, recursionDesired: true));
            using var wait = new CancellationTokenSource(TestDnsServer.Patience);
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token) is var count && (count < 2 || buffer[0] != id >> 8 || buffer[1] != (byte)id))
            {
            }
            if (i >= 200) // the first 200 warm up (JIT, pools)
                times.Add(clock.Elapsed.TotalMicroseconds);
        }
        times.Sort();
        return new Figures(times.Count, times[times.Count / 2], times[times.Count * 99 / 100]);
    }
}
