using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Forwarding;

namespace MiniLb.Operator.Dns;

/// <summary>
/// What a transport does with a query the <see cref="QueryPipeline"/> returned as <see cref="QueryPipeline.Forward"/>:
/// the exchange with the upstreams (the forwarder's I/O, awaited here, never on a receive loop), then the
/// pipeline's relay stage. Forwarding turned off meanwhile: SERVFAIL.
/// </summary>
internal static class ForwardedQuery
{
    /// <summary>Writes the answer to <paramref name="query"/> into <paramref name="output"/>; returns its length (0: send nothing).</summary>
    public static async Task<int> AnswerAsync(QueryPipeline pipeline, byte[] query, Memory<byte> output, TransportProtocol transport, CancellationToken ct)
    {
        using var reply = pipeline.Forwarder is { } forwarder
            ? await forwarder.ExchangeAsync(query, transport == TransportProtocol.Tcp, ct)
            : new UpstreamReply(ForwardResult.Failed, null, 0);
        return pipeline.Relay(query, reply, output.Span, transport);
    }
}
