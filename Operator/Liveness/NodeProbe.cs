using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MiniLb.Operator.Liveness;

/// <summary>Did the host answer? <paramref name="Detail"/> says what was seen, for the log and the event.</summary>
/// <param name="Silent">How many silent probes in a row a silence stands for: a held connection's keepalive gives up only
/// after that many of its own probes went unanswered, the same evidence as that many silent rounds.</param>
public sealed record ProbeResult(bool Answered, string Detail, int Silent = 1);

/// <summary>One reachability check of a node's address.</summary>
public interface INodeProbe
{
    Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct);

    /// <summary>
    /// Called before each round with the settings and the addresses it probes: anything the probe keeps for an address
    /// not among them, or made under other settings, is let go. A probe that keeps nothing ignores it.
    /// </summary>
    void Keep(LivenessSettings settings, IEnumerable<IPAddress> targets)
    {
    }

    /// <summary>
    /// When every one of <paramref name="targets"/> is held by a connection still up, a task that completes when one of
    /// them ends: until then another round could only say what the last one said. Null when some target is not held
    /// (the loop then probes every interval). A probe that holds nothing returns null.
    /// </summary>
    Task? QuietUntilOneEnds(IEnumerable<IPEndPoint> targets) => null;
}

/// <summary>
/// A TCP connection to the node, held while it lasts. A completed handshake or a reset both prove the host is up (its
/// kernel answered); only silence until the timeout, or the LAN saying the host is gone (no ARP/NDP answer), counts as
/// down. Nothing is ever sent: an accepted connection is held, the kernel's keepalive watches it, and a pending
/// zero-byte receive completes when it ends, so a held node costs no system call per round.
/// </summary>
/// <remarks>
/// Connecting and closing every round cost ~8 millicores at 50 nodes, and each handshake-less connection made the
/// kubelet (a TLS server) log "TLS handshake error ... EOF" once a second per node per replica. A held connection is
/// logged once, when it ends.
/// A held connection ends three ways: the host closed or reset it (kubelet restarted, or it dropped an idle connection)
/// — an answer, the next probe connects again; the keepalive got no answer (<see cref="KeepAlive"/>) — as many silent
/// probes as the keepalive sent unanswered (the failures setting), so the node is out at once, and later probes connect
/// afresh; or minilb
/// lets it go (<see cref="Keep"/>, <see cref="Dispose"/>). A refused connection is an answer that cannot be held: it is
/// tried again each round.
/// The outcome of a connect is read from <see cref="SocketAsyncEventArgs.SocketError"/> instead of a thrown
/// <see cref="SocketException"/> (under NativeAOT a throw unwinds through DWARF tables, and a refused connection is a
/// normal answer, not an error).
/// </remarks>
public sealed class TcpNodeProbe : INodeProbe, IDisposable
{
    private static readonly Task<ProbeResult> Held = Task.FromResult(new ProbeResult(true, "answered (connection held)"));
    private static readonly Task<ProbeResult> Closed = Task.FromResult(new ProbeResult(true, "the host closed the held connection (it answered); connecting again"));
    private static readonly ProbeResult Accepted = new(true, "connection accepted");
    private static readonly ProbeResult Refused = new(true, "connection refused (the host answered)");

    private readonly ConcurrentDictionary<IPEndPoint, Hold> holds = new();
    private KeepAlive keepAlive = KeepAlive.From(LivenessSettings.Default);
    // Completed (and replaced) each time a held connection ends.
    private TaskCompletionSource oneEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
    {
        if (!holds.TryGetValue(target, out var hold))
            return ConnectAsync(target, timeout, ct);
        if (hold.Ended is not { } error)
            return Held;
        Release(target, hold);
        return error is SocketError.Success or SocketError.ConnectionReset
            ? Closed
            : Task.FromResult(new ProbeResult(false, $"the held connection ended: {error}: {new SocketException((int)error).Message}", keepAlive.Count));
    }

    public void Keep(LivenessSettings settings, IEnumerable<IPAddress> targets)
    {
        var next = KeepAlive.From(settings);
        if (next != keepAlive)
        {
            keepAlive = next;
            ReleaseAll();
            return;
        }
        if (holds.IsEmpty)
            return;
        var kept = targets as IReadOnlySet<IPAddress> ?? targets.ToHashSet();
        foreach (var (target, hold) in holds)
        {
            if (target.Port != settings.Port || !kept.Contains(target.Address))
                Release(target, hold);
        }
    }

    public Task? QuietUntilOneEnds(IEnumerable<IPEndPoint> targets)
    {
        // Taken before looking, so a connection that ends meanwhile completes the task handed out.
        var signal = Volatile.Read(ref oneEnded).Task;
        foreach (var target in targets)
        {
            if (!holds.TryGetValue(target, out var hold) || hold.Ended is not null)
                return null;
        }
        return signal;
    }

    public void Dispose() => ReleaseAll();

    private void OnHoldEnded() => Interlocked.Exchange(ref oneEnded, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private async Task<ProbeResult> ConnectAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0) };
        var held = false;
        try
        {
            // Disposed while still connecting (a timeout), it is freed when the aborted connect completes.
            using var attempt = new ConnectAttempt { RemoteEndPoint = target };
            if (!socket.ConnectAsync(attempt))
                attempt.Finish();
            // Not thrown either: a timeout leaves the attempt unfinished, and closing the socket aborts it.
            await attempt.Completion.WaitAsync(timeout, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ct.ThrowIfCancellationRequested();
            if (!attempt.Completion.IsCompleted)
                return new(false, $"no answer within {timeout.TotalMilliseconds:0} ms");
            switch (attempt.SocketError)
            {
                case SocketError.Success:
                    held = TryHold(target, socket);
                    return Accepted;
                case SocketError.ConnectionRefused:
                    return Refused;
                case var error:
                    return new(false, $"{error}: {new SocketException((int)error).Message}");
            }
        }
        finally
        {
            if (!held)
                socket.Dispose();
        }
    }

    private bool TryHold(IPEndPoint target, Socket socket)
    {
        try
        {
            keepAlive.Apply(socket);
        }
        catch (SocketException)
        {
            return false; // no keepalive, no hold: connect each round as before
        }
        var hold = new Hold(socket, OnHoldEnded);
        if (!holds.TryAdd(target, hold))
        {
            hold.Dispose(); // another probe of the same target holds one already; the caller closes this socket
            return false;
        }
        hold.Watch();
        return true;
    }

    private void Release(IPEndPoint target, Hold hold)
    {
        if (holds.TryRemove(new(target, hold)))
            hold.Close();
    }

    private void ReleaseAll()
    {
        foreach (var (target, hold) in holds)
            Release(target, hold);
    }

    /// <summary>
    /// The kernel's watch over a held connection. After <see cref="Idle"/> without a segment from the host it sends a
    /// keepalive probe every <see cref="Idle"/>; the host's kernel ACKs it, which costs minilb no wakeup. Once a
    /// probe went unanswered for <see cref="UserTimeout"/> the kernel gives up at its next timer, so a host that went
    /// silent right after an answer is given up 2 × <see cref="Idle"/> later (2 s at the default 1 s interval).
    /// </summary>
    /// <param name="Idle">The interval in whole seconds, at least 1 (the options' granularity).</param>
    /// <param name="UserTimeout">One idle period plus the probe timeout: the time a keepalive probe gets to be answered.</param>
    private sealed record KeepAlive(int Idle, int Count, TimeSpan UserTimeout)
    {
        private const int TcpUserTimeout = 18; // TCP_USER_TIMEOUT, Linux; no SocketOptionName for it

        public static KeepAlive From(LivenessSettings settings)
        {
            var idle = (int)settings.KeepAliveIdle.TotalSeconds;
            return new(idle, settings.Failures, settings.KeepAliveIdle + settings.Timeout);
        }

        public void Apply(Socket socket)
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Idle);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Idle);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Count);
            if (!OperatingSystem.IsLinux())
                return;
            Span<byte> milliseconds = stackalloc byte[sizeof(uint)];
            BitConverter.TryWriteBytes(milliseconds, (uint)UserTimeout.TotalMilliseconds);
            socket.SetRawSocketOption((int)ProtocolType.Tcp, TcpUserTimeout, milliseconds);
        }
    }

    /// <summary>
    /// A held connection and its pending zero-byte receive, which completes when the host closes it (Success) or resets
    /// it, when the keepalive gives up (TimedOut, or HostUnreachable once the LAN says the host is gone), or when minilb
    /// closes it (OperationAborted).
    /// </summary>
    private sealed class Hold(Socket socket, Action onEnded) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        private SocketError endedWith;
        private volatile bool ended;

        /// <summary>Null while the connection lasts; how it ended once it did (Success: the host closed it or sent something).</summary>
        public SocketError? Ended => ended ? endedWith : null;

        public void Watch()
        {
            SetBuffer(Memory<byte>.Empty);
            if (!socket.ReceiveAsync(this))
                End();
        }

        public void Close()
        {
            // Closing aborts the pending receive; the event args are freed when it completes.
            socket.Dispose();
            Dispose();
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => End();

        private void End()
        {
            endedWith = SocketError == SocketError.Success ? PendingError() : SocketError;
            ended = true; // published after the outcome
            onEnded(); // and then told, so a quiet loop that wakes finds it ended
        }

        /// <summary>
        /// A zero-byte receive succeeds however the connection ended (Linux returns 0 before looking at the socket's
        /// error), so the error the kernel left on the socket tells a reset or a keepalive timeout from a close.
        /// </summary>
        private SocketError PendingError()
        {
            try
            {
                return (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            }
            catch (ObjectDisposedException)
            {
                return SocketError.OperationAborted;
            }
        }
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
