using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

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
