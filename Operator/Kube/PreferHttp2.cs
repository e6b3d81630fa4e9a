using System.Net;

namespace MiniLb.Operator.Kube;

/// <summary>
/// Asks for HTTP/2 on every request KubernetesClient sends, where it would ask for HTTP/1.1: its generated
/// operations build their own request messages, so the HttpClient's default version does not reach them. Over TLS
/// the API server agrees in the handshake (ALPN), and the Lease renewals, status writes, events and every watch
/// (JsonListWatch's and GroupDiscovery's requests included) share one connection, as client-go's do, instead of a pool of HTTP/1.1
/// connections: one TLS session, one handshake, no idle connections to close a minute after start-up. Plain HTTP
/// stays HTTP/1.1 (<see cref="HttpVersionPolicy.RequestVersionOrLower"/>: no HTTP/2 without TLS).
/// </summary>
internal sealed class PreferHttp2 : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Version < HttpVersion.Version20)
        {
            request.Version = HttpVersion.Version20;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        }
        return base.SendAsync(request, cancellationToken);
    }
}
