using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Resolution;

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

    /// <summary>
    /// Queries one TCP connection may have unanswered; further pipelined queries wait in the client's socket
    /// (TCP back-pressure), so one connection cannot queue unbounded work.
    /// </summary>
    public int MaxTcpQueriesPerConnection { get; init; } = 32;

    /// <summary>UDP queries being answered at once per socket; more are dropped (shed) rather than queued.</summary>
    public int MaxUdpQueriesInFlight { get; init; } = 1024;

    /// <summary>Response-rate limiting per client prefix over UDP; null (the default) for none.</summary>
    public RateLimit? RateLimit { get; init; }

    /// <summary>Replay answers the responder gave before (<see cref="PreparedAnswers"/>); off, ARSoft answers every query.</summary>
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

    /// <summary>Called after every answered query with its type, response code, transport and the time the responder took (metrics).</summary>
    public Action<RecordType, ReturnCode, TransportProtocol, TimeSpan>? Answered { get; init; }
}

/// <summary>A listen address that cannot be bound; the message says which and why.</summary>
public sealed class ListenException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Serves the current zone of a <see cref="ZoneHolder"/> over UDP and TCP on one <see cref="ListenAddress"/>.
/// One host per address: to move, start a host on the new address, then stop the old one.
/// </summary>
public sealed class DnsHost : IAsyncDisposable
{
    private readonly DnsServer server;
    private readonly IReadOnlyList<IServerTransport> transports;
    private readonly ZoneHolder zones;
    private readonly Responder responder;
    private readonly PreparedAnswers? answers;
    private readonly ILogger logger;
    private Action<RecordType, ReturnCode, TransportProtocol, TimeSpan>? answered;
    private TimeProvider time = TimeProvider.System;
    private int stopped;

    private DnsHost(ListenAddress address, IReadOnlyList<IServerTransport> transports, IReadOnlyList<IPEndPoint> endPoints, ZoneHolder zones, Responder responder, PreparedAnswers? answers, ILogger logger)
    {
        this.answers = answers;
        Address = address;
        this.transports = transports;
        EndPoints = endPoints;
        this.zones = zones;
        this.responder = responder;
        this.logger = logger;
        server = new DnsServer([.. transports]);
        server.QueryReceived += OnQueryAsync;
        server.ExceptionThrown += (_, e) =>
        {
            logger.LogDebug(e.Exception, "DNS request failed");
            return Task.CompletedTask;
        };
    }

    public ListenAddress Address { get; }

    /// <summary>The bound endpoints (UDP and TCP share each), with the real port when 0 was asked for.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; }

    /// <summary>Answers the fast path holds for the current zone (0 with <see cref="DnsHostOptions.FastPath"/> off).</summary>
    internal int PreparedAnswerCount => answers?.Count ?? 0;

    /// <summary>Open TCP connections right now.</summary>
    public int OpenTcpConnections => transports.OfType<TcpTransport>().Sum(t => t.OpenConnections);

    /// <summary>UDP queries dropped so far because too many were being answered (overload).</summary>
    public long ShedQueries => transports.OfType<UdpTransport>().Sum(t => t.ShedQueries);

    /// <summary>The response-rate limiter, when one is configured.</summary>
    public ResponseRateLimiter? RateLimiter { get; private init; }

    /// <summary>Binds every endpoint of <paramref name="address"/> for UDP and TCP and starts answering.</summary>
    /// <exception cref="ListenException">An endpoint cannot be bound (in use, no permission, no such address).</exception>
    public static DnsHost Start(ListenAddress address, ZoneHolder zones, Responder? responder = null, DnsHostOptions? options = null, ILogger<DnsHost>? logger = null)
    {
        options ??= new DnsHostOptions();
        var rateLimiter = options.RateLimit is { } limit ? new ResponseRateLimiter(limit, options.Time) : null;
        var answers = options.FastPath ? new PreparedAnswers(zones.Current) : null;
        var (transports, endPoints) = Bind(address, zones, answers, options, rateLimiter);
        var host = new DnsHost(address, transports, endPoints, zones, responder ?? new Responder(), answers, (ILogger?)logger ?? NullLogger.Instance) { RateLimiter = rateLimiter };
        host.server.Start();
        (host.answered, host.time) = (options.Answered, options.Time);
        host.logger.LogInformation("DNS listening on {EndPoints} (UDP and TCP)", string.Join(", ", endPoints));
        return host;
    }

    private Task OnQueryAsync(object sender, QueryReceivedEventArgs e)
    {
        // The transports already dropped QR=1, the only case where the responder answers null.
        if (answered is null)
        {
            e.Response = responder.Respond(e.Query, zones.Current);
            return Task.CompletedTask;
        }
        var started = time.GetTimestamp();
        var response = responder.Respond(e.Query, zones.Current);
        e.Response = response;
        if (response is not null)
        {
            var type = (e.Query as DnsMessage)?.Questions is [var question, ..] ? question.RecordType : RecordType.Invalid;
            answered(type, response.ReturnCode, e.TransportProtocol, time.GetElapsedTime(started));
        }
        return Task.CompletedTask;
    }

    /// <summary>Closes the sockets; open TCP connections are closed too.</summary>
    public Task StopAsync()
    {
        if (Interlocked.Exchange(ref stopped, 1) == 1)
            return Task.CompletedTask;
        try
        {
            server.Stop();
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is OperationCanceledException))
        {
            // ARSoft starts its accept loops with Task.Run(…, token): stopped before they ran, they report cancelled.
        }
        foreach (var transport in transports)
            transport.Dispose();
        logger.LogInformation("DNS stopped listening on {EndPoints}", string.Join(", ", EndPoints));
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>
    /// UDP and TCP on the same port for every endpoint. With port 0 the first socket picks the port and the others
    /// follow; if another program holds that port for the other protocol, another port is tried.
    /// </summary>
    private static (IReadOnlyList<IServerTransport>, IReadOnlyList<IPEndPoint>) Bind(ListenAddress address, ZoneHolder zones, PreparedAnswers? answers, DnsHostOptions options, ResponseRateLimiter? rateLimiter)
    {
        var anyPort = address.EndPoints.All(e => e.Port == 0);
        for (var attempt = 1; ; attempt++)
        {
            var transports = new List<IServerTransport>();
            var endPoints = new List<IPEndPoint>();
            var port = address.EndPoints[0].Port;
            try
            {
                foreach (var requested in address.EndPoints)
                {
                    var endPoint = new IPEndPoint(requested.Address, port);
                    UdpTransport udp;
                    try
                    {
                        udp = Transport(() => new UdpTransport(endPoint, zones, answers, options, rateLimiter), endPoint, "UDP");
                    }
                    catch (ListenException e) when (address.EndPoints.Count > 1 && requested.AddressFamily == AddressFamily.InterNetworkV6
                        && e.InnerException is SocketException { SocketErrorCode: SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable })
                    {
                        continue; // ':port' on a host with IPv6 turned off: IPv4 alone
                    }
                    transports.Add(udp);
                    port = udp.LocalEndPoint.Port;
                    var tcp = Transport(() => new TcpTransport(new IPEndPoint(requested.Address, port), zones, answers, options), endPoint, "TCP");
                    transports.Add(tcp);
                    endPoints.Add(udp.LocalEndPoint);
                }
                return (transports, endPoints);
            }
            catch (ListenException e) when (anyPort && attempt < 20 && e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                transports.ForEach(t => t.Dispose());
            }
            catch
            {
                transports.ForEach(t => t.Dispose());
                throw;
            }
        }
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
