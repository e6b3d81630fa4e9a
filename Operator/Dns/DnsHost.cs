using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Dns;

/// <summary>Timeouts and limits of the DNS transports.</summary>
public sealed record DnsHostOptions
{
    /// <summary>A TCP connection without a query for this long is closed (RFC 7766 §6.2.3).</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for reading one TCP query and for writing one answer.</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Open TCP connections above this are closed at once, so a flood cannot use up file descriptors.</summary>
    public int MaxTcpConnections { get; init; } = 1000;

    /// <summary>Response-rate limiting per client prefix over UDP; null (the default) for none.</summary>
    public RateLimit? RateLimit { get; init; }

    /// <summary>Replay answers the responder gave before (<see cref="PreparedAnswers"/>); off, the responder answers every query.</summary>
    public bool FastPath { get; init; } = true;

    /// <summary>UDP receive loops (threads) per endpoint.</summary>
    public int UdpReceiveLoops { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// One SO_REUSEPORT socket per UDP receive loop (Linux), instead of all loops sharing one socket. Off by default:
    /// on 2 CPUs the shared socket answered 10–70 % more (docs/benchmarks.md), as the kernel's per-client hashing
    /// left one loop idle while the other was busy.
    /// </summary>
    public bool UdpReusePort { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Zone transfer to secondaries and NOTIFY (off by default); changed live with <see cref="DnsHost.Transfers"/>.</summary>
    public TransferSettings Transfer { get; init; } = TransferSettings.None;

    /// <summary>Forward names outside the zone for allowed clients (docs/forwarding.md); null (the default): refuse them.</summary>
    public ForwardingSettings? Forwarding { get; init; }

    /// <summary>Called for every query that was or would have been forwarded, with what became of it (metrics).</summary>
    public Action<ForwardResult>? Forwarded { get; init; }

    /// <summary>Called after every answered query with its type, response code, transport and the time the responder took (metrics).</summary>
    public Action<RecordType, ReturnCode, TransportProtocol, TimeSpan>? Answered { get; init; }
}

/// <summary>A listen address that cannot be bound; the message says which and why.</summary>
public sealed class ListenException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Serves the current zone of a <see cref="ZoneHolder"/> over UDP and TCP on one <see cref="ListenAddress"/>:
/// binds the transports and hands them one <see cref="QueryPipeline"/>. One host per address: to move, start a
/// host on the new address, then stop the old one.
/// </summary>
public sealed class DnsHost : IAsyncDisposable
{
    private readonly IReadOnlyList<UdpTransport> udp;
    private readonly IReadOnlyList<TcpTransport> tcp;
    private readonly QueryPipeline pipeline;
    private readonly ILogger logger;
    private readonly TransferNotifier notifier;
    private readonly TimeProvider time;
    private Task? stopped;

    private DnsHost(ListenAddress address, IReadOnlyList<UdpTransport> udp, IReadOnlyList<TcpTransport> tcp, QueryPipeline pipeline, ILogger logger, TransferNotifier notifier, TimeProvider time)
    {
        this.notifier = notifier;
        Address = address;
        this.time = time;
        (this.udp, this.tcp, this.pipeline, this.logger) = (udp, tcp, pipeline, logger);
        EndPoints = [.. udp.Select(u => u.LocalEndPoint)];
    }

    public ListenAddress Address { get; }

    /// <summary>The bound endpoints (UDP and TCP share each), with the real port when 0 was asked for.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; }

    /// <summary>Answers the fast path holds for the current zone (0 with <see cref="DnsHostOptions.FastPath"/> off).</summary>
    internal int PreparedAnswerCount => pipeline.PreparedAnswerCount;

    /// <summary>Open TCP connections right now.</summary>
    public int OpenTcpConnections => tcp.Sum(t => t.OpenConnections);

    /// <summary>Zone transfers and NOTIFY: who may transfer, whom to notify (<see cref="ZoneTransfers.Apply"/> changes it live).</summary>
    public ZoneTransfers Transfers => pipeline.Transfers!;

    /// <summary>NOTIFYs the secondaries answered.</summary>
    public int NotifiesAcknowledged => notifier.Acknowledged;

    /// <summary>The response-rate limiter, when one is configured.</summary>
    public ResponseRateLimiter? RateLimiter => pipeline.RateLimiter;

    /// <summary>
    /// Forwarding in effect: null turns it off. A change takes effect with the next query; queries being forwarded
    /// finish with the settings they started with.
    /// </summary>
    public ForwardingSettings? Forwarding
    {
        get => pipeline.Forwarder?.Settings;
        set
        {
            if (value?.Describe() == Forwarding?.Describe())
                return;
            pipeline.Forwarder = value is null ? null : new Forwarder(value, time);
            if (value is null)
                logger.LogInformation("DNS forwarding off: names outside the zone are refused");
            else
                logger.LogInformation("DNS forwarding: {Forwarding}", value.Describe());
        }
    }

    /// <summary>Binds every endpoint of <paramref name="address"/> for UDP and TCP and starts answering.</summary>
    /// <exception cref="ListenException">An endpoint cannot be bound (in use, no permission, no such address).</exception>
    public static DnsHost Start(ListenAddress address, ZoneHolder zones, Responder? responder = null, DnsHostOptions? options = null, ILogger<DnsHost>? logger = null)
    {
        options ??= new DnsHostOptions();
        var log = (ILogger?)logger ?? NullLogger.Instance;
        var transfers = new ZoneTransfers(zones, options.Transfer, log);
        var pipeline = new QueryPipeline(zones, responder ?? new Responder(), options, log) { Transfers = transfers };
        var (udp, tcp) = Bind(address, pipeline, options);
        var host = new DnsHost(address, udp, tcp, pipeline, log, new TransferNotifier(zones, transfers, log, options.Time), options.Time);
        foreach (var transport in udp)
            transport.Start();
        foreach (var transport in tcp)
            transport.Start();
        log.LogInformation("DNS listening on {EndPoints} (UDP and TCP)", string.Join(", ", host.EndPoints));
        return host;
    }

    /// <summary>Closes the sockets, open TCP connections too, and completes when every loop has ended.</summary>
    public Task StopAsync()
    {
        lock (udp)
            stopped ??= StopTransportsAsync();
        return stopped;
    }

    private async Task StopTransportsAsync()
    {
        // The sockets close first: a NOTIFY round still retrying must not keep the old address answering.
        await Task.WhenAll([.. udp.Select(u => u.StopAsync()), .. tcp.Select(t => t.StopAsync())]);
        await notifier.DisposeAsync();
        logger.LogInformation("DNS stopped listening on {EndPoints}", string.Join(", ", EndPoints));
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>
    /// UDP and TCP on the same port for every endpoint. With port 0 the first socket picks the port and the others
    /// follow; if another program holds that port for the other protocol, another port is tried.
    /// </summary>
    private static (IReadOnlyList<UdpTransport>, IReadOnlyList<TcpTransport>) Bind(ListenAddress address, QueryPipeline pipeline, DnsHostOptions options)
    {
        var anyPort = address.EndPoints.All(e => e.Port == 0);
        for (var attempt = 1; ; attempt++)
        {
            var udp = new List<UdpTransport>();
            var tcp = new List<TcpTransport>();
            var port = address.EndPoints[0].Port;
            try
            {
                foreach (var requested in address.EndPoints)
                {
                    var endPoint = new IPEndPoint(requested.Address, port);
                    UdpTransport datagrams;
                    try
                    {
                        datagrams = Transport(() => new UdpTransport(endPoint, pipeline, options), endPoint, "UDP");
                    }
                    catch (ListenException e) when (address.EndPoints.Count > 1 && requested.AddressFamily == AddressFamily.InterNetworkV6
                        && e.InnerException is SocketException { SocketErrorCode: SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable })
                    {
                        continue; // ':port' on a host with IPv6 turned off: IPv4 alone
                    }
                    udp.Add(datagrams);
                    port = datagrams.LocalEndPoint.Port;
                    tcp.Add(Transport(() => new TcpTransport(new IPEndPoint(requested.Address, port), pipeline, options), endPoint, "TCP"));
                }
                return (udp, tcp);
            }
            catch (ListenException e) when (anyPort && attempt < 20 && e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                Release(udp, tcp);
            }
            catch
            {
                Release(udp, tcp);
                throw;
            }
        }
    }

    /// <summary>Transports bound but never started: closing their sockets is all there is to stop.</summary>
    private static void Release(List<UdpTransport> udp, List<TcpTransport> tcp)
    {
        udp.ForEach(u => _ = u.StopAsync());
        tcp.ForEach(t => _ = t.StopAsync());
    }

    private static T Transport<T>(Func<T> bind, IPEndPoint endPoint, string protocol)
    {
        try
        {
            return bind();
        }
        catch (SocketException e)
        {
            var reason = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the port is already in use",
                SocketError.AccessDenied => "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
                SocketError.AddressNotAvailable => "no network interface has this address",
                SocketError.AddressFamilyNotSupported => "this address family is not available here",
                _ => e.Message,
            };
            throw new ListenException($"cannot listen on {endPoint} ({protocol}): {reason}", e);
        }
    }
}
