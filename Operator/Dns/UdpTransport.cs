using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Dns;

/// <summary>
/// DNS over UDP for ARSoft's <see cref="DnsServer"/>, replacing its 3.6.1 transport: a 64 KiB receive buffer
/// (ARSoft's 514 bytes dropped larger queries), responses (QR=1) dropped before ARSoft sees them, and no reply
/// ever larger than the query allows (512 bytes without EDNS).
/// </summary>
internal sealed class UdpTransport : IServerTransport
{
    private readonly Socket socket;
    private readonly byte[] receiveBuffer = new byte[ushort.MaxValue];
    private readonly EndPoint anySender;

    /// <summary>Binds at once, so a busy port is reported before anything is served.</summary>
    public UdpTransport(IPEndPoint endPoint)
    {
        socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false; // [::] is IPv6 only; ':port' binds IPv4 separately
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
            var buffer = new byte[message.Length + DnsRawPackage.LENGTH_HEADER_LENGTH];
            BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)message.Length);
            message.CopyTo(buffer.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH));
            DnsReceivedRawPackage package;
            try
            {
                package = new DnsReceivedRawPackage(buffer, (IPEndPoint)received.RemoteEndPoint, LocalEndPoint);
            }
            catch (Exception)
            {
                continue; // a question ARSoft cannot even read: drop, as ARSoft itself would
            }
            return new UdpConnection(this, package, Wire.UdpLimit(message));
        }
        return null;
    }

    private sealed class UdpConnection(UdpTransport transport, DnsReceivedRawPackage query, int limit) : IServerConnection
    {
        private bool received;

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

        public void Dispose()
        {
        }
    }
}
