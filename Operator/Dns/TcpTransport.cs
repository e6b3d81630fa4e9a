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
        var query = new byte[512];
        var length = new byte[LengthPrefix];
        try
        {
            while (true)
            {
                State = TcpConnectionState.Idle;
                if (!await ReadAsync(length, options.TcpIdleTimeout, deadline))
                    return;
                var size = BinaryPrimitives.ReadUInt16BigEndian(length);
                if (size > query.Length)
                    query = new byte[size];
                State = TcpConnectionState.Reading;
                if (!await ReadAsync(query.AsMemory(0, size), options.IoTimeout, deadline))
                    return;

                State = TcpConnectionState.Answering;
                var output = ArrayPool<byte>.Shared.Rent(LengthPrefix + QueryPipeline.OutputSize);
                try
                {
                    var answer = pipeline.Answer(query.AsSpan(0, size), output.AsSpan(LengthPrefix), TransportProtocol.Tcp);
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

    /// <summary>Reads exactly <paramref name="buffer"/>; false when the client closed, the time ran out or we stop.</summary>
    private async ValueTask<bool> ReadAsync(Memory<byte> buffer, TimeSpan timeout, CancellationTokenSource deadline)
    {
        deadline.CancelAfter(timeout);
        try
        {
            for (var read = 0; read < buffer.Length;)
            {
                var count = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, deadline.Token);
                if (count == 0)
                    return false; // the client closed its side
                read += count;
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
