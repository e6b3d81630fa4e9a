using System.Buffers;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// DNS over UDP: receive loops that hand each datagram to the <see cref="QueryPipeline"/> and send what it
/// answers. Each loop is a thread blocking in <c>recvfrom</c> with its own buffers, so answering allocates
/// nothing on the fast path; with <see cref="DnsHostOptions.UdpReusePort"/> each loop has its own SO_REUSEPORT
/// socket and the kernel spreads clients. Overload is shed by the kernel: a full socket buffer drops datagrams,
/// so there is never a backlog of queries older than the buffer. A query to forward leaves the loop at once: its
/// exchange with the upstreams runs on the thread pool (bounded by <see cref="Forwarding.ForwardingSettings.MaxInFlight"/>)
/// and sends the relayed answer from there, so a slow upstream never holds up the loop.
/// </summary>
internal sealed class UdpTransport
{
    private const int SolSocket = 1, SoReusePort = 15; // Linux <asm-generic/socket.h>

    private readonly Socket[] sockets;
    private readonly QueryPipeline pipeline;
    private readonly int loops;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stopping = new();
    private int running;
    private int closed;

    /// <summary>Binds at once, so a busy port is reported before anything is served.</summary>
    public UdpTransport(IPEndPoint endPoint, QueryPipeline pipeline, DnsHostOptions options)
    {
        this.pipeline = pipeline;
        loops = Math.Max(1, options.UdpReceiveLoops);
        var reusePort = options.UdpReusePort && OperatingSystem.IsLinux() && loops > 1;
        sockets = new Socket[reusePort ? loops : 1];
        try
        {
            for (var i = 0; i < sockets.Length; i++)
                sockets[i] = Open(i == 0 ? endPoint : new IPEndPoint(endPoint.Address, LocalEndPoint!.Port), reusePort);
        }
        catch
        {
            foreach (var socket in sockets)
                socket?.Dispose();
            throw;
        }
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)sockets[0].LocalEndPoint!;

    public void Start()
    {
        running = loops;
        for (var i = 0; i < loops; i++)
        {
            var socket = sockets[i % sockets.Length];
            new Thread(() => Receive(socket)) { IsBackground = true, Name = $"dns-udp-{LocalEndPoint.Port}-{i}" }.Start();
        }
    }

    /// <summary>Closes the sockets and waits for the receive loops to end.</summary>
    public Task StopAsync()
    {
        if (Interlocked.Exchange(ref closed, 1) == 0)
        {
            stopping.Cancel();
            foreach (var socket in sockets)
            {
                // Wakes a loop blocked in recvfrom (Linux wakes receivers on shutdown even for an unconnected UDP
                // socket, then reports ENOTCONN): the loops need no receive timeout, so an idle server sleeps.
                try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
                socket.Close();
            }
            if (Volatile.Read(ref running) == 0)
                stopped.TrySetResult();
        }
        return stopped.Task;
    }

    private static Socket Open(IPEndPoint endPoint, bool reusePort)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false; // [::] is IPv6 only; ':port' binds IPv4 separately
            if (reusePort)
                socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            // Linux's default (208 KiB, about 270 queries) dropped bursts of a few hundred queries; the kernel caps
            // this at net.core.rmem_max.
            socket.ReceiveBufferSize = 1 << 20;
            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Receive(Socket socket)
    {
        var buffer = new byte[ushort.MaxValue];
        var output = new byte[QueryPipeline.OutputSize];
        var sender = new SocketAddress(socket.AddressFamily);
        try
        {
            while (Volatile.Read(ref closed) == 0)
            {
                int count;
                try
                {
                    count = socket.ReceiveFrom(buffer, SocketFlags.None, sender);
                }
                catch (SocketException)
                {
                    continue; // an ICMP error for an earlier reply: the socket is still usable
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                var length = pipeline.Answer(buffer.AsSpan(0, count), output, TransportProtocol.Udp, sender);
                if (length == QueryPipeline.Forward)
                    _ = ForwardAsync(socket, buffer.AsSpan(0, count).ToArray(), Copy(sender));
                else if (length > 0)
                    Send(socket, output.AsSpan(0, length), sender);
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref running) == 0 && Volatile.Read(ref closed) == 1)
                stopped.TrySetResult();
        }
    }

    private async Task ForwardAsync(Socket socket, byte[] query, SocketAddress client)
    {
        await Task.Yield(); // off the receive loop before any socket work
        var output = ArrayPool<byte>.Shared.Rent(Responder.MaxUdpPayloadSize); // a relayed UDP answer never exceeds it
        try
        {
            var length = await ForwardedQuery.AnswerAsync(pipeline, query, output, TransportProtocol.Udp, stopping.Token);
            if (length > 0)
                Send(socket, output.AsSpan(0, length), client);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>The loop reuses its sender address for the next datagram; a forwarded query's reply needs its own.</summary>
    private static SocketAddress Copy(SocketAddress sender)
    {
        var copy = new SocketAddress(sender.Family, sender.Size);
        sender.Buffer.Span[..sender.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    private static void Send(Socket socket, ReadOnlySpan<byte> answer, SocketAddress receiver)
    {
        try
        {
            socket.SendTo(answer, SocketFlags.None, receiver);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client is gone, or we are stopping: UDP gives no promise either way.
        }
    }
}
