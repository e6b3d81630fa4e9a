using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Dns;

/// <summary>
/// DNS over TCP for ARSoft's <see cref="DnsServer"/>, replacing its 3.6.1 transport, which never closed a
/// connection once the client had gone or the keep-alive expired (CLOSE-WAIT sockets piled up). Here a
/// connection closes itself when the client closes, after <see cref="DnsHostOptions.TcpIdleTimeout"/> without a
/// query (RFC 7766 §6.2.3), and when the transport closes; never because ARSoft disposes it (see
/// <see cref="TcpConnection.Dispose"/>). Writes are serialised; pipelined queries are fine, up to
/// <see cref="DnsHostOptions.MaxTcpQueriesPerConnection"/> unanswered at a time.
/// </summary>
internal sealed class TcpTransport : IServerTransport
{
    private readonly Socket listener;
    private readonly DnsHostOptions options;
    private readonly ZoneHolder zones;
    private readonly PreparedAnswers? answers;
    private readonly ConcurrentDictionary<TcpConnection, byte> open = new();

    public TcpTransport(IPEndPoint endPoint, ZoneHolder zones, PreparedAnswers? answers, DnsHostOptions options)
    {
        this.options = options;
        this.zones = zones;
        this.answers = answers;
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
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Connections currently open (tests check that closed clients do not linger).</summary>
    public int OpenConnections => open.Count;

    public ushort DefaultAllowedResponseSize => ushort.MaxValue;
    public bool SupportsMultipleResponses => false;
    public bool AllowTruncatedResponses => false;
    public TransportProtocol TransportProtocol => TransportProtocol.Tcp;

    public void Bind()
    {
        // Bound in the constructor.
    }

    public void Close()
    {
        listener.Close();
        foreach (var connection in open.Keys)
            connection.Close();
    }

    public void Dispose() => Close();

    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                var socket = await listener.AcceptAsync(token);
                if (open.Count >= options.MaxTcpConnections)
                {
                    socket.Dispose(); // the client falls back to another server or retries (RFC 7766 §6.2.2)
                    continue;
                }
                socket.NoDelay = true;
                var connection = new TcpConnection(this, socket);
                open[connection] = 0;
                return connection;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException)
            {
                // The client gave up before we accepted it; keep accepting.
            }
        }
        return null;
    }

    private sealed class TcpConnection(TcpTransport transport, Socket socket) : IServerConnection
    {
        private readonly SemaphoreSlim writeLock = new(1, 1);
        private readonly CancellationTokenSource closed = new();
        private readonly SemaphoreSlim slots = new(transport.options.MaxTcpQueriesPerConnection);
        private int pending;      // queries handed to ARSoft and not answered yet
        private int receiving = 1; // 0 once the client closed or went idle
        private int shut;         // 1 once Close ran
        private byte[]? output, key; // fast-path buffers, made on the first query

        public IServerTransport Transport => transport;
        public IPEndPoint RemoteEndPoint { get; } = (IPEndPoint)socket.RemoteEndPoint!;
        public IPEndPoint LocalEndPoint { get; } = (IPEndPoint)socket.LocalEndPoint!;
        public bool CanRead => Volatile.Read(ref receiving) == 1 && Volatile.Read(ref shut) == 0;

        public Task<bool> InitializeAsync(CancellationToken token = default) => Task.FromResult(true);

        public async Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            try
            {
                return await ReceiveQueryAsync(token);
            }
            catch (Exception)
            {
                // ARSoft's loop must end through a null, never an exception: only then is closing ours (see Dispose).
                StopReceiving();
                return null;
            }
        }

        private async Task<DnsReceivedRawPackage?> ReceiveQueryAsync(CancellationToken token)
        {
            // With the connection's fill in flight, the next query stays in the socket: the client's writes back up,
            // not our memory. A query ARSoft cannot parse is never answered and keeps its slot; a connection whose
            // slots stay taken for the I/O timeout is closed.
            if (!await TakeSlotAsync(token))
            {
                StopReceiving();
                return null;
            }
            var length = new byte[2];
            while (true)
            {
                // Waiting for the next query is bounded by the idle timeout, reading one by the I/O timeout.
                if (!await ReadAsync(length, transport.options.TcpIdleTimeout, token))
                    break;
                var size = BinaryPrimitives.ReadUInt16BigEndian(length);
                var buffer = new byte[size + DnsRawPackage.LENGTH_HEADER_LENGTH];
                length.CopyTo(buffer, 0);
                if (!await ReadAsync(buffer.AsMemory(DnsRawPackage.LENGTH_HEADER_LENGTH), transport.options.IoTimeout, token))
                    break;
                if (!Wire.IsQuery(buffer.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH)))
                    continue;
                if (TryPrepared(buffer.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH), out var answer))
                {
                    await SendPreparedAsync(answer, token);
                    continue;
                }
                try
                {
                    var package = new DnsReceivedRawPackage(buffer, RemoteEndPoint, LocalEndPoint);
                    Interlocked.Increment(ref pending);
                    return package;
                }
                catch (Exception)
                {
                    // Unreadable question: dropped, as ARSoft would; the connection stays usable.
                }
            }
            slots.Release();
            StopReceiving();
            return null;
        }

        private async Task<bool> TakeSlotAsync(CancellationToken token)
        {
            using var cancel = new CancellationTokenSource(transport.options.IoTimeout, transport.options.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancel.Token, closed.Token);
            try
            {
                await slots.WaitAsync(linked.Token);
                return true;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return false;
            }
        }

        /// <summary>ARSoft's answer to a query <see cref="ReceiveAsync"/> handed it: its slot is free again.</summary>
        public async Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            try
            {
                return await SendFramedAsync(package.ToArraySegment(true), token);
            }
            finally
            {
                slots.Release();
            }
        }

        private async Task<bool> SendFramedAsync(ArraySegment<byte> framed, CancellationToken token)
        {
            try
            {
                await writeLock.WaitAsync(token);
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token, closed.Token);
                    timeout.CancelAfter(transport.options.IoTimeout);
                    await socket.SendAsync(framed, SocketFlags.None, timeout.Token);
                    return true;
                }
                finally
                {
                    writeLock.Release();
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return false;
            }
            finally
            {
                // The last answer after the client stopped sending closes the connection.
                if (Interlocked.Decrement(ref pending) <= 0 && Volatile.Read(ref receiving) == 0)
                    Close();
            }
        }

        /// <summary>The fast path (<see cref="PreparedAnswers"/>): the framed answer in this connection's output buffer.</summary>
        private bool TryPrepared(ReadOnlySpan<byte> query, out int framedLength)
        {
            framedLength = 0;
            if (transport.answers is null)
                return false;
            output ??= new byte[DnsRawPackage.LENGTH_HEADER_LENGTH + ushort.MaxValue];
            key ??= new byte[PreparedAnswers.MaxKeyLength];
            var started = transport.options.Answered is null ? 0 : transport.options.Time.GetTimestamp();
            var outcome = transport.answers.TryAnswer(query, transport.zones.Current, output.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH), ushort.MaxValue, key, out var length, out _);
            if (outcome != PreparedAnswers.Outcome.Answered)
                return false;
            if (transport.options.Answered is { } answered)
            {
                var (type, rcode) = Wire.Summary(output.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH, length));
                answered(type, rcode, TransportProtocol.Tcp, transport.options.Time.GetElapsedTime(started));
            }
            BinaryPrimitives.WriteUInt16BigEndian(output, (ushort)length);
            framedLength = length + DnsRawPackage.LENGTH_HEADER_LENGTH;
            return true;
        }

        private async Task SendPreparedAsync(int framedLength, CancellationToken token)
        {
            Interlocked.Increment(ref pending);
            // The receive loop waits for this send, so the output buffer is free again when the next query comes.
            await SendFramedAsync(new ArraySegment<byte>(output!, 0, framedLength), token);
        }

        private async Task<bool> ReadAsync(Memory<byte> buffer, TimeSpan timeout, CancellationToken token)
        {
            using var cancel = new CancellationTokenSource(timeout, transport.options.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancel.Token, closed.Token);
            try
            {
                var read = 0;
                while (read < buffer.Length)
                {
                    var count = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, linked.Token);
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
        }

        /// <summary>
        /// No more queries will come. Close now if every query is answered; otherwise the last answer closes
        /// (see <see cref="SendAsync"/>), and a timer makes sure a query ARSoft never answers cannot hold the socket.
        /// </summary>
        private void StopReceiving()
        {
            Volatile.Write(ref receiving, 0);
            if (Volatile.Read(ref pending) <= 0)
            {
                Close();
                return;
            }
            _ = CloseLaterAsync();
        }

        private async Task CloseLaterAsync()
        {
            try
            {
                await Task.Delay(transport.options.IoTimeout, transport.options.Time, closed.Token);
            }
            catch (OperationCanceledException)
            {
            }
            Close();
        }

        /// <summary>
        /// ARSoft letting go, not a close. Its DnsServer counts a connection's pending receive plus the queries being
        /// answered and disposes the connection when the count reaches 0. That also happens between two receives:
        /// when the answer to the only query in flight is sent before its loop has counted the next receive, which a
        /// preempted loop thread on a busy machine allows. Honoured, it cut pipelining clients off mid-stream (3 runs
        /// in 200 of 500 pipelined queries, more under load). The connection closes itself instead; ARSoft's loop
        /// only leaves through a null from <see cref="ReceiveAsync"/>, which closes it.
        /// </summary>
        public void Dispose()
        {
        }

        /// <summary>Closes the socket now; pending receives and sends end.</summary>
        public void Close()
        {
            if (Interlocked.Exchange(ref shut, 1) == 1)
                return;
            transport.open.TryRemove(this, out _);
            closed.Cancel();
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
}
