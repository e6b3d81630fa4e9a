using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// DNS over UDP for ARSoft's <see cref="DnsServer"/>, replacing its 3.6.1 transport: a 64 KiB receive buffer
/// (ARSoft's 514 bytes dropped larger queries), responses (QR=1) dropped before ARSoft sees them, and no reply
/// ever larger than the query allows (512 bytes without EDNS). Queries over <see cref="DnsHostOptions.MaxUdpQueriesInFlight"/>
/// are shed, and with a <see cref="ResponseRateLimiter"/> a client prefix over its rate is dropped or slipped.
/// </summary>
internal sealed class UdpTransport : IServerTransport
{
    private readonly Socket socket;
    private readonly byte[] receiveBuffer = new byte[ushort.MaxValue];
    private readonly EndPoint anySender;
    private readonly InFlightLimit inFlight;
    private readonly ResponseRateLimiter? rateLimiter;

    /// <summary>Binds at once, so a busy port is reported before anything is served.</summary>
    public UdpTransport(IPEndPoint endPoint, DnsHostOptions options, ResponseRateLimiter? rateLimiter = null)
    {
        inFlight = new InFlightLimit(options.MaxUdpQueriesInFlight);
        this.rateLimiter = rateLimiter;
        socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false; // [::] is IPv6 only; ':port' binds IPv4 separately
            // Linux's default (208 KiB, about 270 queries) dropped bursts of a few hundred queries; the kernel caps
            // this at net.core.rmem_max.
            socket.ReceiveBufferSize = 1 << 20;
            socket.Bind(endPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        anySender = new IPEndPoint(endPoint.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Queries shed because <see cref="DnsHostOptions.MaxUdpQueriesInFlight"/> were being answered.</summary>
    public long ShedQueries => inFlight.Shed;

    public ushort DefaultAllowedResponseSize => Responder.MinUdpPayloadSize;
    public bool SupportsMultipleResponses => false;
    public bool AllowTruncatedResponses => true;
    public TransportProtocol TransportProtocol => TransportProtocol.Udp;

    public void Bind()
    {
        // Bound in the constructor.
    }

    public void Close() => socket.Close();

    public void Dispose() => socket.Dispose();

    /// <summary>One datagram is one "connection". DnsServer calls this in a single loop, so one buffer serves.</summary>
    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        while (!token.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(receiveBuffer, SocketFlags.None, anySender, token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException)
            {
                continue; // e.g. an ICMP error for an earlier reply; the socket is still usable
            }

            var message = receiveBuffer.AsSpan(0, received.ReceivedBytes);
            if (!Wire.IsQuery(message))
                continue;
            var remote = (IPEndPoint)received.RemoteEndPoint;
            if (rateLimiter is not null && !Admit(rateLimiter.Check(remote.Address), message, remote))
                continue;
            var buffer = new byte[message.Length + DnsRawPackage.LENGTH_HEADER_LENGTH];
            BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)message.Length);
            message.CopyTo(buffer.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH));
            DnsReceivedRawPackage package;
            try
            {
                package = new DnsReceivedRawPackage(buffer, remote, LocalEndPoint);
            }
            catch (Exception)
            {
                continue; // a question ARSoft cannot even read: drop, as ARSoft itself would
            }
            if (!inFlight.TryEnter())
                continue;
            return new UdpConnection(this, package, Wire.UdpLimit(message));
        }
        return null;
    }

    /// <summary>True to answer; a slip is sent here and now, without ARSoft.</summary>
    private bool Admit(RateLimitVerdict verdict, ReadOnlySpan<byte> query, IPEndPoint remote)
    {
        if (verdict == RateLimitVerdict.Slip)
        {
            try
            {
                socket.SendTo(Wire.Slip(query), SocketFlags.None, remote);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        return verdict == RateLimitVerdict.Answer;
    }

    private sealed class UdpConnection(UdpTransport transport, DnsReceivedRawPackage query, int limit) : IServerConnection
    {
        private bool received;
        private int disposed;

        public IServerTransport Transport => transport;
        public IPEndPoint RemoteEndPoint => query.RemoteEndpoint;
        public IPEndPoint LocalEndPoint => query.LocalEndpoint;
        public bool CanRead => !received;

        public Task<bool> InitializeAsync(CancellationToken token = default) => Task.FromResult(true);

        public Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            var first = !received;
            received = true;
            return Task.FromResult(first ? query : null);
        }

        public async Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            ArraySegment<byte> data = package.ToArraySegment(false);
            if (data.Count > limit)
                data = Wire.Truncate(data);
            try
            {
                return await transport.socket.SendToAsync(data, SocketFlags.None, RemoteEndPoint, token) == data.Count;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>ARSoft disposes a UDP "connection" once its answer is sent (or given up).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
                transport.inFlight.Exit();
        }
    }
}
