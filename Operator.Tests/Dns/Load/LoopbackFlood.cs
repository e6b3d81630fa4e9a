using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Tests.Dns.Load;

/// <summary>What one load phase sent and got back.</summary>
internal sealed record FloodResult(long Sent, long Answered, long ServerFailures, TimeSpan Elapsed)
{
    public double SentPerSecond => Sent / Elapsed.TotalSeconds;
    public double AnsweredPerSecond => Answered / Elapsed.TotalSeconds;
    public double Unanswered => Sent == 0 ? 0 : 1 - (double)Answered / Sent;
}

/// <summary>
/// UDP load on a loopback DNS server from a few sockets, open loop: a fixed rate, whatever comes back. Bounded in
/// time; the mix is 80 % A, 10 % NXDOMAIN, 10 % NODATA, as in the throughput notes.
/// </summary>
internal sealed class LoopbackFlood(IPEndPoint target, int sockets = 4, Action<string>? log = null)
{
    private static readonly byte[][] Mix =
    [
        .. Enumerable.Repeat(RawQuery.Build("web.default.minilb"), 8),
        RawQuery.Build("nothing.default.minilb"),
        RawQuery.Build("web.default.minilb", RecordType.Aaaa),
    ];

    /// <summary>
    /// The capacity: the most answers per second over a ramp of offered rates (doubling from 5,000/s, each for
    /// <paramref name="step"/>) that ends once the server answers less than 90 % of what it is offered.
    /// </summary>
    public FloodResult Capacity(TimeSpan step)
    {
        FloodResult best = new(0, 0, 0, step);
        for (double rate = 5_000; rate <= 640_000; rate *= 2)
        {
            var result = OpenLoop(rate, step);
            log?.Invoke($"offered {result.SentPerSecond:F0}/s, answered {result.AnsweredPerSecond:F0}/s, unanswered {result.Unanswered:P1}");
            if (result.AnsweredPerSecond > best.AnsweredPerSecond)
                best = result;
            if (result.Unanswered > 0.1)
                break;
        }
        return best;
    }

    /// <summary>Sends at <paramref name="perSecond"/> for <paramref name="duration"/>, counting what comes back.</summary>
    public FloodResult OpenLoop(double perSecond, TimeSpan duration)
    {
        long sent = 0, answered = 0, failures = 0;
        var open = Enumerable.Range(0, sockets).Select(_ => Connect()).ToArray();
        var clock = Stopwatch.StartNew();
        var sending = true;
        var receivers = open.Select(socket => Task.Factory.StartNew(() =>
        {
            var buffer = new byte[4096];
            // Until sending has stopped and nothing more comes for one receive timeout.
            while (Receive(socket, buffer, ref answered, ref failures) || Volatile.Read(ref sending))
            {
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        var next = 0;
        while (clock.Elapsed < duration)
        {
            var due = Math.Min((long)(clock.Elapsed.TotalSeconds * perSecond), sent + 4096); // and look at the clock again
            for (; sent < due; sent++, next++)
            {
                try
                {
                    open[next % sockets].Send(Mix[next % Mix.Length]);
                }
                catch (SocketException)
                {
                    // ENOBUFS or ECONNREFUSED from an earlier ICMP error: counts as sent and lost
                }
            }
            Thread.Sleep(1); // the rate comes from the clock; spinning would take the server's CPU
        }
        var elapsed = clock.Elapsed;
        Volatile.Write(ref sending, false);
        Task.WaitAll(receivers);
        foreach (var socket in open)
            socket.Dispose();
        return new FloodResult(sent, answered, failures, elapsed);
    }

    private Socket Connect()
    {
        var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 200, ReceiveBufferSize = 1 << 20 };
        socket.Connect(target);
        return socket;
    }

    /// <summary>One reply (true), or nothing within the receive timeout (false). SERVFAIL is counted apart.</summary>
    private static bool Receive(Socket socket, byte[] buffer, ref long answered, ref long failures)
    {
        try
        {
            var count = socket.Receive(buffer);
            if (count >= 12 && (buffer[3] & 0x0F) == (int)ReturnCode.ServerFailure)
                Interlocked.Increment(ref failures);
            Interlocked.Increment(ref answered);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
