using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Dns;

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
        var client = socket.RemoteEndPoint?.Serialize(); // the forwarder's allow-list
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
                if (pipeline.Transfers is { Enabled: true } transfers && ZoneTransfers.IsTransfer(received.Pending.Slice(LengthPrefix, size))
                    && transfers.BeginOverTcp(received.Pending.Slice(LengthPrefix, size), ((IPEndPoint)socket.RemoteEndPoint!).Address) is { } transfer)
                {
                    received.Consume(LengthPrefix + size);
                    using (transfer)
                    {
                        State = TcpConnectionState.Writing;
                        if (!await WriteTransferAsync(transfer, deadline))
                            return;
                    }
                    continue;
                }
                var output = ArrayPool<byte>.Shared.Rent(LengthPrefix + QueryPipeline.OutputSize);
                try
                {
                    var query = received.Pending.Slice(LengthPrefix, size);
                    var answer = pipeline.Answer(query, output.AsSpan(LengthPrefix), TransportProtocol.Tcp, client);
                    var forward = answer == QueryPipeline.Forward ? query.ToArray() : null;
                    received.Consume(LengthPrefix + size);
                    if (forward is not null)
                        answer = await ForwardedQuery.AnswerAsync(pipeline, forward, output.AsMemory(LengthPrefix), TransportProtocol.Tcp, stopping);
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

    /// <summary>A transfer's messages, each with its length prefix and its own I/O timeout (a large zone takes several).</summary>
    private async ValueTask<bool> WriteTransferAsync(TransferReply transfer, CancellationTokenSource deadline)
    {
        foreach (var message in transfer.Messages)
        {
            var framed = new byte[LengthPrefix + message.Length];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
            message.CopyTo(framed, LengthPrefix);
            if (!await WriteAsync(framed, deadline))
                return false;
        }
        return true;
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
