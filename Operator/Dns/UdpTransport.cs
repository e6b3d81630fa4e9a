using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Dns;

/// <summary>
/// DNS over UDP for ARSoft's <see cref="DnsServer"/>, replacing its 3.6.1 transport: a 64 KiB receive buffer
/// (ARSoft's 514 bytes dropped larger queries), responses (QR=1) dropped before ARSoft sees them, and no reply
/// ever larger than the query allows (512 bytes without EDNS). Queries for ARSoft beyond
/// <see cref="DnsHostOptions.MaxUdpQueriesInFlight"/> are shed, and with a <see cref="ResponseRateLimiter"/> a client
/// prefix over its rate is dropped or slipped, on the fast path too.
/// <para>
/// Several receive loops, each a thread blocking in <c>recvfrom</c> on its own buffers (and, with
/// <see cref="DnsHostOptions.UdpReusePort"/>, its own SO_REUSEPORT socket, so the kernel spreads clients), answer
/// known queries straight from <see cref="PreparedAnswers"/> without allocating. Everything else is queued for
/// ARSoft, whose answer is then learned for the next equal query.
/// </para>
/// </summary>
internal sealed class UdpTransport : IServerTransport
{
    // Slow-path queries waiting for ARSoft; beyond this many the newest are dropped, as a full socket buffer would.
    private const int SlowPathQueue = 1024;

    private readonly Socket[] sockets;
    private readonly ZoneHolder zones;
    private readonly PreparedAnswers? answers;
    private readonly int loops;
    private readonly Channel<UdpConnection> slowPath = Channel.CreateBounded<UdpConnection>(
        new BoundedChannelOptions(SlowPathQueue) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly IPEndPoint anySender;
    private readonly InFlightLimit inFlight;
    private readonly ResponseRateLimiter? rateLimiter;
    private readonly Action<RecordType, ReturnCode, TransportProtocol, TimeSpan>? answered;
    private readonly TimeProvider time;
    private int closed;

    /// <summary>Binds at once, so a busy port is reported before anything is served.</summary>
    public UdpTransport(IPEndPoint endPoint, ZoneHolder zones, PreparedAnswers? answers, DnsHostOptions options, ResponseRateLimiter? rateLimiter = null)
    {
        inFlight = new InFlightLimit(options.MaxUdpQueriesInFlight);
        this.rateLimiter = rateLimiter;
        (answered, time) = (options.Answered, options.Time);
        this.zones = zones;
        this.answers = answers;
        loops = Math.Max(1, options.UdpReceiveLoops);
        var reusePort = options.UdpReusePort && OperatingSystem.IsLinux() && loops > 1;
        sockets = new Socket[reusePort ? loops : 1];
        try
        {
            for (var i = 0; i < sockets.Length; i++)
            {
                sockets[i] = Open(i == 0 ? endPoint : new IPEndPoint(endPoint.Address, ((IPEndPoint)sockets[0].LocalEndPoint!).Port), reusePort);
            }
        }
        catch
        {
            foreach (var socket in sockets)
                socket?.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)sockets[0].LocalEndPoint!;
        anySender = new IPEndPoint(endPoint.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
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
            // Lets a loop notice Close even where closing a socket does not wake a blocked recvfrom.
            socket.ReceiveTimeout = 1000;
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

    private const int SolSocket = 1, SoReusePort = 15; // Linux <asm-generic/socket.h>

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Queries shed because <see cref="DnsHostOptions.MaxUdpQueriesInFlight"/> were waiting for or in ARSoft.</summary>
    public long ShedQueries => inFlight.Shed;

    public ushort DefaultAllowedResponseSize => Responder.MinUdpPayloadSize;
    public bool SupportsMultipleResponses => false;
    public bool AllowTruncatedResponses => true;
    public TransportProtocol TransportProtocol => TransportProtocol.Udp;

    /// <summary>Starts the receive loops (DnsServer calls this once when it starts).</summary>
    public void Bind()
    {
        for (var i = 0; i < loops; i++)
        {
            var socket = sockets[i % sockets.Length];
            new Thread(() => Receive(socket)) { IsBackground = true, Name = $"dns-udp-{LocalEndPoint.Port}-{i}" }.Start();
        }
    }

    public void Close()
    {
        if (Interlocked.Exchange(ref closed, 1) == 1)
            return;
        slowPath.Writer.TryComplete();
        foreach (var socket in sockets)
            socket.Close();
    }

    public void Dispose() => Close();

    /// <summary>One datagram is one "connection": the slow-path queries, as the receive loops queued them.</summary>
    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        try
        {
            return await slowPath.Reader.ReadAsync(token);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return null;
        }
    }

    private void Receive(Socket socket)
    {
        var buffer = new byte[ushort.MaxValue];
        var output = new byte[ushort.MaxValue];
        var key = new byte[PreparedAnswers.MaxKeyLength];
        var sender = new SocketAddress(socket.AddressFamily);
        while (Volatile.Read(ref closed) == 0)
        {
            int count;
            try
            {
                count = socket.ReceiveFrom(buffer, SocketFlags.None, sender);
            }
            catch (SocketException)
            {
                continue; // the receive timeout, or an ICMP error for an earlier reply; the socket is still usable
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            var received = answered is null ? 0 : time.GetTimestamp();
            var message = buffer.AsSpan(0, count);
            if (!Wire.IsQuery(message))
                continue;
            if (rateLimiter is not null && !Admit(socket, rateLimiter.Check(((IPEndPoint)anySender.Create(sender)).Address), message, sender))
                continue;
            var limit = Wire.UdpLimit(message);
            var zone = zones.Current;
            var outcome = PreparedAnswers.Outcome.SlowPathOnly;
            var keyLength = 0;
            if (answers is not null)
            {
                outcome = answers.TryAnswer(message, zone, output, limit, key, out var length, out keyLength);
                if (outcome == PreparedAnswers.Outcome.Answered)
                {
                    Send(socket, output.AsSpan(0, length), sender);
                    if (answered is not null)
                    {
                        var (type, rcode) = Wire.Summary(output.AsSpan(0, length));
                        answered(type, rcode, TransportProtocol.Udp, time.GetElapsedTime(received));
                    }
                    continue;
                }
            }
            Queue(socket, message, sender, limit, outcome == PreparedAnswers.Outcome.Learnable ? new Lesson(key[..keyLength], zone) : null);
        }
    }

    private void Queue(Socket socket, ReadOnlySpan<byte> message, SocketAddress sender, int limit, Lesson? lesson)
    {
        var buffer = new byte[message.Length + DnsRawPackage.LENGTH_HEADER_LENGTH];
        BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)message.Length);
        message.CopyTo(buffer.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH));
        DnsReceivedRawPackage package;
        try
        {
            package = new DnsReceivedRawPackage(buffer, (IPEndPoint)anySender.Create(sender), LocalEndPoint);
        }
        catch (Exception)
        {
            return; // a question ARSoft cannot even read: drop, as ARSoft itself would
        }
        if (!inFlight.TryEnter())
            return;
        if (!slowPath.Writer.TryWrite(new UdpConnection(this, socket, package, limit, lesson)))
            inFlight.Exit();
    }

    /// <summary>True to answer; a slip is sent here and now, without ARSoft.</summary>
    private static bool Admit(Socket socket, RateLimitVerdict verdict, ReadOnlySpan<byte> query, SocketAddress sender)
    {
        if (verdict == RateLimitVerdict.Slip)
            Send(socket, Wire.Slip(query), sender);
        return verdict == RateLimitVerdict.Answer;
    }

    private static bool Send(Socket socket, ReadOnlySpan<byte> data, SocketAddress receiver)
    {
        try
        {
            return socket.SendTo(data, SocketFlags.None, receiver) == data.Length;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>What the fast path learns from a slow-path answer: the query's key and the zone it was asked against.</summary>
    private sealed class Lesson(ReadOnlySpan<byte> key, Zone zone)
    {
        public byte[] Key { get; } = key.ToArray();
        public Zone Zone { get; } = zone;
    }

    private sealed class UdpConnection(UdpTransport transport, Socket socket, DnsReceivedRawPackage query, int limit, Lesson? lesson) : IServerConnection
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

        public Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            ArraySegment<byte> data = package.ToArraySegment(false);
            if (data.Count > limit)
                data = Wire.Truncate(data);
            // Same zone before and after: the responder, which read the zone in between, answered from it.
            if (lesson is not null && ReferenceEquals(transport.zones.Current, lesson.Zone))
                transport.answers?.Learn(lesson.Key, lesson.Zone, data);
            // Synchronous, like the receive loops: an async send would turn the socket non-blocking for them too.
            return Task.FromResult(Send(socket, data, RemoteEndPoint.Serialize()));
        }

        /// <summary>ARSoft disposes a UDP "connection" once its answer is sent (or given up).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
                transport.inFlight.Exit();
        }
    }
}
