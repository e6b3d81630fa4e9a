using System.Diagnostics;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Run-mode figures for issue 6 against the test API server: EndpointSlice change → DNS answering the new set, and the
/// initial sync of many Services. Measurements, not checks for `make test`: category Slow keeps them out of it
/// (`dotnet test --filter TestCategory=RunModeFigures`; MINILB_SYNC_SERVICES and MINILB_PROPAGATION_CHANGES resize them).
/// </summary>
[Category("Slow")]
[Category("RunModeFigures")]
public sealed class RunModeFiguresTests : OperatorFixture
{
    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) && value > 0 ? value : fallback;

    [Test]
    public async Task Propagation_from_an_accepted_EndpointSlice_change_to_the_new_DNS_answer()
    {
        var changes = Setting("MINILB_PROPAGATION_CHANGES", 200);
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.1");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.1"], "the first endpoint answers");

        var latencies = new List<double>(changes);
        for (var change = 0; change < changes; change++)
        {
            var expected = $"10.244.{1 + change / 250}.{1 + change % 250}";
            // The clock starts before the request: the figure includes the API round trip, so it errs on the slow side.
            var clock = Stopwatch.StartNew();
            await SetEndpointsAsync("default", "web", expected);
            while (await AddressesAsync(port, "web.default.minilb") is not [var answered] || answered != expected)
            {
                if (clock.Elapsed > Eventually)
                    Assert.Fail($"change {change}: {expected} not answered within {Eventually.TotalSeconds:0} s");
                await Task.Delay(1);
            }
            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }

        latencies.Sort();
        double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
        TestContext.Out.WriteLine($"propagation over {changes} EndpointSlice changes: p50 {Percentile(0.5):0.0} ms, " +
                                  $"p99 {Percentile(0.99):0.0} ms, max {latencies[^1]:0.0} ms (load {File.ReadAllText("/proc/loadavg").Trim()})");
        Assert.That(latencies, Has.Count.EqualTo(changes));
    }

    [Test]
    public async Task Initial_sync_of_many_Services()
    {
        var services = Setting("MINILB_SYNC_SERVICES", 10_000);
        await CreateConfigAsync();
        var created = Stopwatch.StartNew();
        await Parallel.ForAsync(0, services, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            await CreateServiceAsync("default", $"svc-{i}");
            await SetEndpointsAsync("default", $"svc-{i}", $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}");
        });
        TestContext.Out.WriteLine($"{services} Services and EndpointSlices created in the test API server in {created.Elapsed.TotalSeconds:0.0} s");

        var clock = Stopwatch.StartNew();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        var last = services - 1;
        var lastAddress = $"10.{(last >> 16) & 255}.{(last >> 8) & 255}.{last & 255}";
        while (await AddressesAsync(port, $"svc-{last}.default.minilb") is not [var answered] || answered != lastAddress)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(2))
                Assert.Fail($"svc-{last} not answered within 2 minutes of the start");
            await Task.Delay(5);
        }
        var answering = clock.Elapsed;
        var first = await AddressesAsync(port, "svc-0.default.minilb");
        TestContext.Out.WriteLine($"initial sync of {services} Services: start to DNS answering all of them {answering.TotalSeconds:0.00} s " +
                                  $"(load {File.ReadAllText("/proc/loadavg").Trim()})");
        Assert.That(first, Is.EqualTo(new[] { "10.0.0.0" }));
    }
}
