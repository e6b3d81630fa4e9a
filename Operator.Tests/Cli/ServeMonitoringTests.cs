using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace MiniLb.Operator.Tests.Cli;

/// <summary>`minilb serve --health-listen`: readiness once DNS is bound, and DNS metrics by type and response code.</summary>
public sealed class ServeMonitoringTests
{
    [Test]
    public async Task Serve_with_health_listen_is_ready_and_counts_queries_by_type_and_rcode()
    {
        var health = FreeTcpPort();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--health-listen", $"127.0.0.1:{health}");
        var port = await serve.PortAsync();
        using var dns = new DnsClient([IPAddress.Loopback], [new UdpClientTransport(port)], disposeTransport: true, queryTimeout: 5000);
        await dns.ResolveAsync(DomainName.Parse("web.default.minilb"), RecordType.A);
        await dns.ResolveAsync(DomainName.Parse("web.default.minilb"), RecordType.Aaaa);
        await dns.ResolveAsync(DomainName.Parse("example.org"), RecordType.A);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        var ready = await http.GetStringAsync("/readyz?verbose");
        var metrics = await http.GetStringAsync("/metrics");

        Assert.That(ready, Does.Contain("[+]dns-bound ok"));
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NOERROR\",transport=\"udp\"} 1"));
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"AAAA\",rcode=\"NOERROR\",transport=\"udp\"} 1"));
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"REFUSED\",transport=\"udp\"} 1"));
        Assert.That(metrics, Does.Contain("minilb_dns_response_duration_seconds_count{transport=\"udp\"} 3"));
        Assert.That(metrics, Does.Match(@"minilb_served_services [1-9]"));
    }

    [Test]
    public async Task Repeated_queries_answered_by_the_fast_path_are_counted_too()
    {
        var health = FreeTcpPort();
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--health-listen", $"127.0.0.1:{health}");
        var port = await serve.PortAsync();
        // The first answer is the responder's; the fast path replays it for the other four (PreparedAnswers).
        using var udp = new DnsClient([IPAddress.Loopback], [new UdpClientTransport(port)], disposeTransport: true, queryTimeout: 5000);
        for (var i = 0; i < 5; i++)
            Assert.That(await udp.ResolveAsync(DomainName.Parse("web.default.minilb"), RecordType.A), Is.Not.Null);
        for (var i = 0; i < 3; i++)
            Assert.That(await udp.ResolveAsync(DomainName.Parse("nothing.default.minilb"), RecordType.A), Is.Not.Null);
        using var tcp = new DnsClient([IPAddress.Loopback], [new TcpClientTransport(port)], disposeTransport: true, queryTimeout: 5000);
        Assert.That(await tcp.ResolveAsync(DomainName.Parse("web.default.minilb"), RecordType.A), Is.Not.Null);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        var metrics = await http.GetStringAsync("/metrics");

        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NOERROR\",transport=\"udp\"} 5"));
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NXDOMAIN\",transport=\"udp\"} 3"));
        Assert.That(metrics, Does.Contain("minilb_dns_queries_total{type=\"A\",rcode=\"NOERROR\",transport=\"tcp\"} 1"));
        Assert.That(metrics, Does.Contain("minilb_dns_response_duration_seconds_count{transport=\"udp\"} 8"));
    }

    [Test]
    public async Task Serve_has_no_health_endpoint_unless_asked()
    {
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        await serve.PortAsync();

        Assert.That(serve.Error.ToString(), Does.Not.Contain("/metrics"));
    }

    internal static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
