using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// DNS over TCP (RFC 7766): an accept loop, and per connection one loop that reads a length-prefixed query, hands
/// it to the <see cref="QueryPipeline"/> and writes the answer. Pipelined queries are answered in order, one at a
/// time, so a connection never holds more than one query's work; the next ones wait in the client's socket (TCP
/// back-pressure). A connection closes when the client closes, after <see cref="DnsHostOptions.TcpIdleTimeout"/>
/// without a query (RFC 7766 §6.2.3), when a query or an answer takes longer than
/// <see cref="DnsHostOptions.IoTimeout"/>, and when the transport stops; beyond
/// <see cref="DnsHostOptions.MaxTcpConnections"/> new connections are closed at once (RFC 7766 §6.2.2).
/// </summary>
internal sealed class TcpTransport
{
    private readonly Socket listener;
    private readonly QueryPipeline pipeline;
    private readonly DnsHostOptions options;
    private readonly CancellationTokenSource stopping = new();
    private readonly ConcurrentDictionary<TcpConnection, Task> open = new();
    private Task accepting = Task.CompletedTask;

    /// <summary>Binds and listens at once, so a busy port is reported before anything is served.</summary>
    public TcpTransport(IPEndPoint endPoint, QueryPipeline pipeline, DnsHostOptions options)
    {
        this.pipeline = pipeline;
        this.options = options;
        listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                listener.DualMode = false;
            listener.Bind(endPoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)listener.LocalEndPoint!;

    /// <summary>Connections currently open.</summary>
    public int OpenConnections => open.Count;

    public void Start() => accepting = AcceptAsync();

    /// <summary>Stops accepting, closes every connection and waits for their loops to end.</summary>
    public async Task StopAsync()
    {
        if (stopping.IsCancellationRequested)
            return;
        stopping.Cancel();
        listener.Close();
        await accepting;
        await Task.WhenAll(open.Values);
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // the client gave up before we accepted it
            }
            if (open.Count >= options.MaxTcpConnections)
            {
                socket.Dispose(); // the client falls back to another server or retries (RFC 7766 §6.2.2)
                continue;
            }
            socket.NoDelay = true;
            var connection = new TcpConnection(socket, pipeline, options, stopping.Token);
            var served = new TaskCompletionSource();
            open[connection] = served.Task;
            _ = ServeAsync(connection, served);
        }
    }

    private async Task ServeAsync(TcpConnection connection, TaskCompletionSource served)
    {
        await Task.Yield(); // off the accept loop
        try
        {
            await connection.ServeAsync();
        }
        finally
        {
            open.TryRemove(connection, out _);
            served.TrySetResult();
        }
    }
}

/// <summary>Where a TCP connection is in its life; <see cref="Closed"/> is final.</summary>
internal enum TcpConnectionState
{
    /// <summary>Waiting for the next query's length (idle timeout).</summary>
    Idle,

    /// <summary>Reading a query (I/O timeout).</summary>
    Reading,

    /// <summary>The pipeline is answering.</summary>
    Answering,

    /// <summary>Writing an answer (I/O timeout).</summary>
    Writing,

    Closed,
}

/// <summary>One client connection: read a query, answer it, write the answer, until the one place that closes it.</summary>
internal sealed class TcpConnection(Socket socket, QueryPipeline pipeline, DnsHostOptions options, CancellationToken stopping)
{
    private const int LengthPrefix = 2;

    public TcpConnectionState State { get; private set; } = TcpConnectionState.Idle;

    /// <summary>Serves queries until the client closes, a timeout passes or the transport stops; then closes.</summary>
    public async Task ServeAsync()
    {
        // One deadline for every step: armed with the step's timeout, disarmed when it is done; stopping fires it too.
        using var deadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, options.Time);
        using var onStop = stopping.Register(deadline.Cancel);
        // What the client sent and we have not answered yet: pipelined queries arrive several per read.
        var received = new Received(new byte[4096]);
        try
        {
            while (true)
            {
                State = TcpConnectionState.Idle;
                if (!await ReceiveAtLeastAsync(received, LengthPrefix, options.TcpIdleTimeout, deadline))
                    return;
                var size = BinaryPrimitives.ReadUInt16BigEndian(received.Pending);
                State = TcpConnectionState.Reading;
                // The whole query must arrive within one I/O timeout, however it trickles in (slow-loris).
                if (!await ReceiveAtLeastAsync(received, LengthPrefix + size, options.IoTimeout, deadline))
                    return;

                State = TcpConnectionState.Answering;
                var output = ArrayPool<byte>.Shared.Rent(LengthPrefix + QueryPipeline.OutputSize);
                try
                {
                    var answer = pipeline.Answer(received.Pending.Slice(LengthPrefix, size), output.AsSpan(LengthPrefix), TransportProtocol.Tcp);
                    received.Consume(LengthPrefix + size);
                    if (answer == 0)
                        continue; // garbage or a response: nothing to say, the connection stays usable
                    BinaryPrimitives.WriteUInt16BigEndian(output, (ushort)answer);
                    State = TcpConnectionState.Writing;
                    if (!await WriteAsync(output.AsMemory(0, LengthPrefix + answer), deadline))
                        return;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(output);
                }
            }
        }
        finally
        {
            Close();
        }
    }

    /// <summary>
    /// Receives until <paramref name="count"/> bytes are pending, within <paramref name="timeout"/> for all of them;
    /// false when the client closed, the time ran out or we stop. No system call when they are there already.
    /// </summary>
    private async ValueTask<bool> ReceiveAtLeastAsync(Received received, int count, TimeSpan timeout, CancellationTokenSource deadline)
    {
        if (received.Count >= count)
            return true;
        received.MakeRoom(count);
        deadline.CancelAfter(timeout);
        try
        {
            while (received.Count < count)
            {
                var read = await socket.ReceiveAsync(received.Free, SocketFlags.None, deadline.Token);
                if (read == 0)
                    return false; // the client closed its side
                received.Add(read);
            }
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }
        finally
        {
            deadline.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>A receive buffer: bytes from <c>start</c> to <c>end</c> are received and not yet consumed.</summary>
    private sealed class Received(byte[] buffer)
    {
        private int start, end;

        public int Count => end - start;
        public ReadOnlySpan<byte> Pending => buffer.AsSpan(start, end - start);
        public Memory<byte> Free => buffer.AsMemory(end);

        public void Add(int count) => end += count;

        public void Consume(int count)
        {
            start += count;
            if (start == end)
                start = end = 0; // nothing pending: the next receive starts at the front
        }

        /// <summary>Room after the pending bytes for <paramref name="count"/> in all: moved to the front, or a larger buffer.</summary>
        public void MakeRoom(int count)
        {
            if (start + count <= buffer.Length)
                return;
            var target = count <= buffer.Length ? buffer : new byte[count];
            buffer.AsSpan(start, end - start).CopyTo(target);
            (buffer, end, start) = (target, end - start, 0);
        }
    }

    private async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> data, CancellationTokenSource deadline)
    {
        deadline.CancelAfter(options.IoTimeout);
        try
        {
            for (var sent = 0; sent < data.Length;)
                sent += await socket.SendAsync(data[sent..], SocketFlags.None, deadline.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }
        finally
        {
            deadline.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The one place a connection closes: a FIN to the client, then the socket is released.</summary>
    private void Close()
    {
        State = TcpConnectionState.Closed;
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        socket.Dispose();
    }
}
