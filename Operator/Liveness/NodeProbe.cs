using System.Net;
using System.Net.Sockets;

namespace MiniLb.Operator.Liveness;

/// <summary>Did the host answer? <paramref name="Detail"/> says what was seen, for the log and the event.</summary>
public sealed record ProbeResult(bool Answered, string Detail);

/// <summary>One reachability check of a node's address.</summary>
public interface INodeProbe
{
    Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct);
}

/// <summary>
/// A TCP connection attempt. A completed handshake or a reset both prove the host is up (its kernel answered);
/// only silence until the timeout, or the LAN saying the host is gone (no ARP/NDP answer), counts as down.
/// The connection is closed at once; nothing is sent.
/// </summary>
/// <remarks>
/// Every node with served endpoints is probed every interval (by default each second), so a probe must be cheap: the
/// outcome is read from <see cref="SocketAsyncEventArgs.SocketError"/> instead of a thrown <see cref="SocketException"/>
/// (under NativeAOT a throw unwinds through DWARF tables, and a refused connection is a normal answer, not an error).
/// </remarks>
public sealed class TcpNodeProbe : INodeProbe
{
    private static readonly ProbeResult Accepted = new(true, "connection accepted");
    private static readonly ProbeResult Refused = new(true, "connection refused (the host answered)");

    public async Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
    {
        using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0) };
        // Disposed while still connecting (a timeout), it is freed when the aborted connect completes.
        using var attempt = new ConnectAttempt { RemoteEndPoint = target };
        if (!socket.ConnectAsync(attempt))
            attempt.Finish();
        // Not thrown either: a timeout leaves the attempt unfinished, and closing the socket aborts it.
        await attempt.Completion.WaitAsync(timeout, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        ct.ThrowIfCancellationRequested();
        if (!attempt.Completion.IsCompleted)
            return new(false, $"no answer within {timeout.TotalMilliseconds:0} ms");
        return attempt.SocketError switch
        {
            SocketError.Success => Accepted,
            SocketError.ConnectionRefused => Refused,
            var error => new(false, $"{error}: {new SocketException((int)error).Message}"),
        };
    }

    /// <remarks>
    /// The probe continues on the thread that completes the connect (a thread-pool worker the socket engine handed the
    /// completion to), not on yet another worker: a round of probes finishes with as few thread wakeups as it can.
    /// </remarks>
    private sealed class ConnectAttempt() : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        private readonly TaskCompletionSource done = new();

        public Task Completion => done.Task;

        public void Finish() => done.TrySetResult();

        protected override void OnCompleted(SocketAsyncEventArgs e) => Finish();
    }
}
