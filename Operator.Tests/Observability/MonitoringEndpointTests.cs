using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Tests.Observability;

[TestFixture]
[Parallelizable(ParallelScope.All)]
public class MonitoringEndpointTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Test]
    public async Task Metrics_ArePrometheusText_WithWhatTheOperatorReported()
    {
        var telemetry = new Telemetry("1.2.3");
        telemetry.DnsQueryAnswered(RecordType.A, ReturnCode.NoError, TransportProtocol.Udp, TimeSpan.FromMilliseconds(0.3));
        telemetry.DnsQueryAnswered(RecordType.A, ReturnCode.NoError, TransportProtocol.Udp, TimeSpan.FromMilliseconds(0.2));
        telemetry.DnsQueryAnswered(RecordType.Aaaa, ReturnCode.NxDomain, TransportProtocol.Tcp, TimeSpan.FromMilliseconds(1));
        telemetry.ZonePublished(services: 3, endpoints: 7, aliasNames: 2);
        telemetry.WatchRestarted("services");
        telemetry.WatchRelisted("endpointslices");
        telemetry.Reconciled("service-status", succeeded: true, TimeSpan.FromMilliseconds(4));
        telemetry.Reconciled("service-status", succeeded: false, TimeSpan.FromMilliseconds(40));
        telemetry.LeaderChanged(true);
        telemetry.NodeReachabilityChanged(reachable: false);
        telemetry.UnreachableNodes(1);
        await using var endpoint = await StartAsync(telemetry, new HealthChecks());

        using var response = await Http.GetAsync(Url(endpoint, "/metrics"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.ToString(), Does.StartWith("text/plain; version=0.0.4"));
        Assert.That(body, Does.Contain("""minilb_dns_queries_total{type="A",rcode="NOERROR",transport="udp"} 2"""));
        Assert.That(body, Does.Contain("""minilb_dns_queries_total{type="AAAA",rcode="NXDOMAIN",transport="tcp"} 1"""));
        Assert.That(body, Does.Contain("""minilb_dns_response_duration_seconds_count{transport="udp"} 2"""));
        Assert.That(body, Does.Contain("minilb_served_services 3"));
        Assert.That(body, Does.Contain("minilb_served_endpoints 7"));
        Assert.That(body, Does.Contain("minilb_served_alias_names 2"));
        Assert.That(body, Does.Contain("""minilb_watch_restarts_total{resource="services"} 1"""));
        Assert.That(body, Does.Contain("""minilb_watch_relists_total{resource="endpointslices"} 1"""));
        Assert.That(body, Does.Contain("""minilb_reconciles_total{controller="service-status",result="success"} 1"""));
        Assert.That(body, Does.Contain("""minilb_reconciles_total{controller="service-status",result="error"} 1"""));
        Assert.That(body, Does.Contain("""minilb_reconcile_duration_seconds_count{controller="service-status"} 2"""));
        Assert.That(body, Does.Contain("minilb_leader 1"));
        Assert.That(body, Does.Contain("minilb_unreachable_nodes 1"));
        Assert.That(body, Does.Contain("""minilb_node_reachability_changes_total{to="unreachable"} 1"""));
        Assert.That(body, Does.Contain("""minilb_build_info{version="1.2.3"} 1"""));
        Assert.That(body, Does.Contain("process_working_set_bytes"));
        // Both gauges describe the last collection; the test process may not have had one before the scrape.
        GC.Collect();
        body = await Http.GetStringAsync(Url(endpoint, "/metrics"));
        Assert.That(Gauge(body, "dotnet_gc_committed_memory_bytes"), Is.GreaterThan(0), "what the GC holds from the OS");
        Assert.That(Gauge(body, "dotnet_gc_last_collection_heap_size_bytes"), Is.GreaterThan(0).And.LessThanOrEqualTo(Gauge(body, "dotnet_gc_committed_memory_bytes")));
        Assert.That(Gauge(body, "dotnet_gc_allocated_bytes_total"), Is.GreaterThan(0), "what makes the GC collect and grow");
        Assert.That(Gauge(body, "dotnet_gc_pause_seconds_total"), Is.GreaterThan(0), "the collection above paused the process");
    }

    private static double Gauge(string metrics, string name) =>
        double.Parse(metrics.Split('\n').Single(line => line.StartsWith(name + " ", StringComparison.Ordinal))[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    public async Task Metrics_CountUnusualQueryTypesAsOther()
    {
        var telemetry = new Telemetry();
        telemetry.DnsQueryAnswered((RecordType)65000, ReturnCode.NoError, TransportProtocol.Udp, TimeSpan.Zero);
        telemetry.DnsQueryAnswered(RecordType.Loc, ReturnCode.NoError, TransportProtocol.Udp, TimeSpan.Zero);
        await using var endpoint = await StartAsync(telemetry, new HealthChecks());

        var body = await Http.GetStringAsync(Url(endpoint, "/metrics"));

        Assert.That(body, Does.Contain("""minilb_dns_queries_total{type="other",rcode="NOERROR",transport="udp"} 2"""));
    }

    [Test]
    public async Task Metrics_SpeakOpenMetricsWhenAsked()
    {
        await using var endpoint = await StartAsync(new Telemetry(), new HealthChecks());
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(endpoint, "/metrics"));
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");

        using var response = await Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/openmetrics-text"));
        Assert.That(body.TrimEnd(), Does.EndWith("# EOF"));
    }

    [Test]
    public async Task Healthz_IsOkWithNoChecks_AndFailsWhenALivenessCheckFails()
    {
        var checks = new HealthChecks();
        var informers = checks.AddSignal("informers", Probe.Liveness, "pending");
        informers.Set();
        await using var endpoint = await StartAsync(new Telemetry(), checks);

        using var healthy = await Http.GetAsync(Url(endpoint, "/healthz"));
        informers.Clear("services watch silent for 10m");
        using var unhealthy = await Http.GetAsync(Url(endpoint, "/healthz"));

        Assert.That(healthy.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await healthy.Content.ReadAsStringAsync(), Is.EqualTo("healthz check passed\n"));
        Assert.That(unhealthy.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await unhealthy.Content.ReadAsStringAsync(), Does.Contain("[-]informers failed: services watch silent for 10m"));
    }

    [Test]
    public async Task Readyz_WaitsForEveryReadinessCheck_AndSaysWhichOneIsPending()
    {
        var checks = new HealthChecks();
        var cachesSynced = checks.AddSignal("caches-synced", Probe.Readiness, "waiting for the first LIST");
        var dnsBound = checks.AddSignal("dns-bound", Probe.Readiness, "DNS listener not bound");
        await using var endpoint = await StartAsync(new Telemetry(), checks);

        using var before = await Http.GetAsync(Url(endpoint, "/readyz"));
        var beforeText = await before.Content.ReadAsStringAsync();
        cachesSynced.Set();
        using var half = await Http.GetAsync(Url(endpoint, "/readyz"));
        var halfText = await half.Content.ReadAsStringAsync();
        dnsBound.Set();
        using var after = await Http.GetAsync(Url(endpoint, "/readyz?verbose"));
        var afterText = await after.Content.ReadAsStringAsync();
        using var healthz = await Http.GetAsync(Url(endpoint, "/healthz"));

        Assert.That(before.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(beforeText, Does.Contain("[-]caches-synced failed: waiting for the first LIST"));
        Assert.That(beforeText, Does.Contain("[-]dns-bound failed: DNS listener not bound"));
        Assert.That(half.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(halfText, Does.Contain("[+]caches-synced ok").And.Contain("[-]dns-bound failed"));
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(afterText, Does.Contain("[+]caches-synced ok").And.Contain("[+]dns-bound ok").And.EndWith("readyz check passed\n"));
        Assert.That(healthz.StatusCode, Is.EqualTo(HttpStatusCode.OK), "readiness checks do not affect liveness");
    }

    [Test]
    public async Task Readyz_FailsWhenALivenessCheckFails()
    {
        var checks = new HealthChecks();
        checks.Add("informers", Probe.Liveness, () => CheckResult.Failed("watch stuck"));
        await using var endpoint = await StartAsync(new Telemetry(), checks);

        using var response = await Http.GetAsync(Url(endpoint, "/readyz"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("[-]informers failed: watch stuck"));
    }

    [Test]
    public async Task ACheckThatThrows_FailsWithItsMessage()
    {
        var checks = new HealthChecks();
        checks.Add("zone", Probe.Readiness, () => throw new InvalidOperationException("no zone published"));
        await using var endpoint = await StartAsync(new Telemetry(), checks);

        using var response = await Http.GetAsync(Url(endpoint, "/readyz"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("[-]zone failed: check threw InvalidOperationException: no zone published"));
    }

    [Test]
    public async Task UnknownPathsAndMethods_AreRefused()
    {
        await using var endpoint = await StartAsync(new Telemetry(), new HealthChecks());

        using var missing = await Http.GetAsync(Url(endpoint, "/nope"));
        using var post = await Http.PostAsync(Url(endpoint, "/metrics"), new StringContent(""));

        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await missing.Content.ReadAsStringAsync(), Does.Contain("/metrics"));
        Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
    }

    [Test]
    public async Task Dispose_StopsServing()
    {
        var endpoint = await StartAsync(new Telemetry(), new HealthChecks());
        var url = Url(endpoint, "/healthz");
        using (var response = await Http.GetAsync(url))
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await endpoint.DisposeAsync();

        Assert.That(async () => await Http.GetAsync(url), Throws.InstanceOf<HttpRequestException>());
    }

    [Test]
    public void RegisteringACheckNameTwice_IsRefused()
    {
        var checks = new HealthChecks();
        checks.AddSignal("dns-bound", Probe.Readiness, "pending");

        Assert.That(() => checks.AddSignal("dns-bound", Probe.Readiness, "pending"),
            Throws.InvalidOperationException.With.Message.Contains("'dns-bound' is registered twice"));
    }

    [TestCase(":8080", "http://+:8080/", 8080)]
    [TestCase("0.0.0.0:9100", "http://+:9100/", 9100)]
    [TestCase("127.0.0.1:8080", "http://127.0.0.1:8080/", 8080)]
    public void ListenAddresses_BecomeListenerPrefixes(string listen, string prefix, int port)
    {
        Assert.That(MonitoringEndpoint.ParseListen(listen), Is.EqualTo((prefix, port)));
    }

    [TestCase("8080x", "port must be a number from 1 to 65535")]
    [TestCase(":0", "port must be a number from 1 to 65535")]
    [TestCase(":70000", "port must be a number from 1 to 65535")]
    [TestCase("example.com:8080", "host must be empty")]
    [TestCase("::1:8080", "host must be empty")]
    [TestCase("[::1]:8080", "IPv6 is not supported")]
    public void BadListenAddresses_AreRefusedWithTheReason(string listen, string reason)
    {
        Assert.That(() => MonitoringEndpoint.ParseListen(listen),
            Throws.InstanceOf<FormatException>().With.Message.Contains($"'{listen}'").And.Message.Contains(reason));
    }

    private static Uri Url(MonitoringEndpoint endpoint, string path) => new($"http://127.0.0.1:{endpoint.Port}{path}");

    /// <summary>Starts on a free loopback port. HttpListener cannot bind port 0, so take one the OS just handed
    /// out and retry if another test grabbed it in between.</summary>
    private static async Task<MonitoringEndpoint> StartAsync(Telemetry telemetry, HealthChecks checks)
    {
        for (var attempt = 1; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            try
            {
                return MonitoringEndpoint.Start($"127.0.0.1:{port}", telemetry, checks, NullLogger<MonitoringEndpoint>.Instance);
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                await Task.Delay(50);
            }
        }
    }
}
