using System.Net;
using System.Net.Sockets;

namespace MiniLb.Operator.Liveness;

/// <summary>Did the host answer? <paramref name="Detail"/> says what was seen, for the log and the event.</summary>
public sealed record ProbeResult(bool Answered, string Detail);

/// <summary>One reachability check of a node's address.</summary>
public interface INodeProbe
{
    Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct);
}

/// <summary>
/// A TCP connection attempt. A completed handshake or a reset both prove the host is up (its kernel answered);
/// only silence until the timeout, or the LAN saying the host is gone (no ARP/NDP answer), counts as down.
/// The connection is closed at once; nothing is sent.
/// </summary>
public sealed class TcpNodeProbe : INodeProbe
{
    public async Task<ProbeResult> ProbeAsync(IPEndPoint target, TimeSpan timeout, CancellationToken ct)
    {
        using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(target, deadline.Token);
            return new(true, "connection accepted");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return new(true, "connection refused (the host answered)");
        }
        catch (SocketException e)
        {
            return new(false, $"{e.SocketErrorCode}: {e.Message}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new(false, $"no answer within {timeout.TotalMilliseconds:0} ms");
        }
    }
}
