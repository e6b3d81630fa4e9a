using System.Net;
using System.Text.Json;
using k8s;
using ARSoft.Tools.Net.Dns;
using k8s.Models;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Issue 13, flags-only start: the shipped binary started as the original minilb is (flags, no MiniLbConfig and no CRD
/// installed) serves DNS and writes hostnames, says once in words that the CRD is absent, and takes a MiniLbConfig up
/// when its CRD and the object appear later; the MiniLbConfig then wins and its status names the flags it overrides.
/// </summary>
public sealed class FlagsOnlyStartTests : OperatorFixture
{
    private const string Crd = "minilbconfigs.minilb.io";

    [Test]
    public async Task Run_with_flags_and_no_CRD_serves_then_a_MiniLbConfig_created_later_wins_and_names_the_flags_it_overrides()
    {
        // The fixture installs the CRD for every test; this cluster must not have it.
        await Client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync(Crd);
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web", loadBalancerClass: "example.com/dns");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        var port = FreePort();
        var health = FreePort();

        await using var run = AotBinary.Start("run", "--kubeconfig", Kubeconfig, "--leader-election", "false", "--health-listen", $"127.0.0.1:{health}",
            "--domain", "lan.example", "--ttl", "30", "--listen", $"127.0.0.1:{port}", "--load-balancer-class", "example.com/dns");
        await run.WaitForOutputAsync("minilb running");

        var flags = $"the flags --domain lan.example, --ttl 30, --listen 127.0.0.1:{port}, --load-balancer-class example.com/dns";
        Assert.That(run.Output, Does.Contain("ip route add 10.244.0.0/24 via 192.168.1.11"), "the routes are printed at start without the CRD");
        Assert.That(run.Output, Does.Contain($"minilb running ({flags} in force (no MiniLbConfig 'default')"));
        await WaitUntilAsync(async () => await TtlsAsync(port, "web.default.lan.example") is [30], "DNS answers under the flags' domain with the flags' TTL");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.lan.example", "the hostname is written");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}"), Timeout = TimeSpan.FromSeconds(10) };
        var ready = await http.GetAsync("/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), "readiness does not wait for the CRD");
        Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain($"[+]config-source ok, but: {flags} in force"));

        await InstallCrd();
        var config = new MiniLbConfig
        {
            Metadata = new V1ObjectMeta { Name = "default" },
            Spec = new MiniLbConfigSpec { Domain = "k8s.example", Ttl = 10, Listen = $"127.0.0.1:{FreePort()}", LoadBalancerClass = "example.com/dns" },
        };
        await Client.CustomObjects.CreateClusterCustomObjectAsync(JsonSerializer.SerializeToElement(config, EntityJson.Default.MiniLbConfig),
            MiniLbConfig.ApiGroup, MiniLbConfig.ApiVersionName, MiniLbConfig.Plural);

        // The CRD is looked for again with backoff, at least every 30 s.
        var moved = int.Parse(config.Spec.Listen.Split(':')[1]);
        await WaitUntilAsync(async () => await TtlsAsync(moved, "web.default.k8s.example") is [10], "the MiniLbConfig is picked up: its domain, TTL and address",
            TimeSpan.FromSeconds(60));
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.k8s.example", "the hostname follows the MiniLbConfig");
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)?.Reason == ConfigSource.MiniLbConfig,
            "ConfigSource=True MiniLbConfig");
        Assert.That(ConditionOf(await ReadConfigAsync(), ConditionTypes.ConfigSource)!.Message, Does.Contain(
            $"it overrides these flags of `minilb run`: --domain lan.example (spec.domain is k8s.example), --ttl 30 (spec.ttl is 10), --listen 127.0.0.1:{port} (spec.listen is {config.Spec.Listen})")
            .And.Not.Contain("--load-balancer-class"), "the class flag agrees with the spec, so it is not named as overridden");
        Assert.That(await (await http.GetAsync("/readyz?verbose")).Content.ReadAsStringAsync(), Does.Contain("[+]config-source ok\n"));

        Assert.That(await run.StopAsync(), Is.Zero, run.Error);
        var log = run.Error;
        TestContext.Out.WriteLine(log);
        Assert.Multiple(() =>
        {
            Assert.That(Count(log, $"{Crd}: not served by the API server (is its CRD installed?)"), Is.EqualTo(1), "the absent CRD is said once");
            Assert.That(Count(log, $"{Crd}: now served by the API server"), Is.EqualTo(1));
            Assert.That(log, Does.Contain($"No MiniLbConfig named 'default': {flags} are in force"));
            Assert.That(log, Does.Contain("Applied MiniLbConfig 'default' generation 1").And.Contain("it overrides these flags of `minilb run`: --domain lan.example"));
            Assert.That(log, Does.Not.Contain("   at "), "no stack trace");
            Assert.That(log.Split('\n').Where(l => l.Contains(Crd) && (l.Contains("warn") || l.Contains("fail"))), Is.Empty, "no warnings about the CRD");
        });
    }

    /// <summary>The TTLs of the A records answered, or null when nothing answered.</summary>
    private static async Task<int[]?> TtlsAsync(int port, string name) =>
        await QueryAsync(port, name) is { } answer ? answer.AnswerRecords.OfType<ARecord>().Select(a => a.TimeToLive).Distinct().ToArray() : null;

    private static int Count(string text, string what) => text.Split(what).Length - 1;
}
