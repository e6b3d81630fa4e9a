using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using k8s;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>DNS answers from the watch caches, and live edits of the MiniLbConfig, checked with real DNS queries.</summary>
public sealed class LiveDnsTests : OperatorFixture
{
    [Test]
    public async Task An_EndpointSlice_change_shows_in_DNS_within_a_second()
    {
        var (_, port) = await ServingWebAsync();

        var clock = Stopwatch.StartNew();
        await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.1.9");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5", "10.244.1.9"], "the new endpoint answers");
        var added = clock.Elapsed;

        clock.Restart();
        await SetEndpointsAsync("default", "web", "10.244.1.9");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.1.9"], "the removed endpoint is gone");
        var removed = clock.Elapsed;

        TestContext.Out.WriteLine($"endpoint added → in DNS after {added.TotalMilliseconds:0} ms; removed → gone after {removed.TotalMilliseconds:0} ms");
        Assert.That(added, Is.LessThan(TimeSpan.FromSeconds(1)));
        Assert.That(removed, Is.LessThan(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public async Task A_new_domain_answers_and_the_old_names_stop_resolving()
    {
        var (_, port) = await ServingWebAsync();

        await EditConfigAsync("""{"domain":"home.arpa"}""");

        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.home.arpa") is ["10.244.0.5"], "the new name answers");
        var old = await QueryAsync(port, "web.default.minilb");
        Assert.That(old?.ReturnCode, Is.EqualTo(ReturnCode.Refused), "minilb is no longer authoritative for the old zone");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.home.arpa", "the Service carries the new name");
    }

    [Test]
    public async Task A_new_TTL_applies_to_the_next_answer()
    {
        await CreateConfigAsync(ttl: 5);
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => (await QueryAsync(port, "web.default.minilb"))?.AnswerRecords.FirstOrDefault()?.TimeToLive == 5, "TTL 5");

        await EditConfigAsync("""{"ttl":42}""");

        await WaitUntilAsync(async () => (await QueryAsync(port, "web.default.minilb"))?.AnswerRecords.FirstOrDefault()?.TimeToLive == 42, "TTL 42");
    }

    [Test]
    public async Task A_new_listen_address_is_bound_and_the_old_one_closed()
    {
        var (_, oldPort) = await ServingWebAsync();

        var newPort = FreePort();
        await EditConfigAsync($$"""{"listen":"127.0.0.1:{{newPort}}"}""");

        await WaitUntilAsync(async () => await AddressesAsync(newPort, "web.default.minilb") is ["10.244.0.5"], "the new port answers");
        // The new address answers before the old one closes (no gap); the old one closes right after.
        await WaitUntilAsync(async () => await QueryAsync(oldPort, "web.default.minilb") is null, "the old port no longer answers", TimeSpan.FromSeconds(3));
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.DnsServing)?.Message.Contains($":{newPort}") == true,
            "DnsServing names the new address");
    }

    [Test]
    public async Task A_spec_that_cannot_work_keeps_the_last_good_configuration_running()
    {
        var (minilb, oldPort) = await ServingWebAsync();

        var taken = FreePort();
        using (var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            squatter.Bind(new IPEndPoint(IPAddress.Loopback, taken));
            await EditConfigAsync($$"""{"listen":"127.0.0.1:{{taken}}","domain":"home.arpa"}""");

            await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready) is { Status: Condition.False, Reason: "ListenFailed" },
                "Ready=False ListenFailed");
            var ready = ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)!;
            Assert.That(ready.Message, Does.Contain("already in use").And.Contain("last good configuration"));
            await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "ConfigNotApplied" && e.Type == "Warning"), "a Warning event");
            Assert.That(await AddressesAsync(oldPort, "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }), "the old listen and domain still answer");
            Assert.That(ReadinessOf(minilb).Text("readyz", verbose: true), Does.Contain("[+]config-source ok, but: serving the last good configuration"));
        }

        // Once the port is free, the retry applies the spec.
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)?.Status == Condition.True, "Ready=True after the port is freed");
        await WaitUntilAsync(async () => await AddressesAsync(DnsPort(minilb), "web.default.home.arpa") is ["10.244.0.5"], "the new domain answers on the new port");
    }

    [Test]
    public async Task Ingress_and_Gateway_API_names_resolve_once_their_CRDs_appear()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "gw");
        await SetEndpointsAsync("default", "gw", "10.244.0.8");
        var ingress = TestObjects.Ingress("default", "shop", ["shop.example.com"], "gw.default.minilb");
        var created = await Client.NetworkingV1.CreateNamespacedIngressAsync(ingress, "default");
        created.Status = ingress.Status; // status given on create is dropped, as kube-apiserver does
        await Client.NetworkingV1.ReplaceNamespacedIngressStatusAsync(created, "shop", "default");
        await WaitUntilAsync(async () => await AddressesAsync(port, "shop.example.com") is ["10.244.0.8"], "the Ingress host answers with the Service's addresses");
        Assert.That(minilb.Host.Informers.Where(i => i.Kind.Group == "gateway.networking.k8s.io").All(i => i.IsAbsent), Is.True, "no Gateway API CRDs yet");

        await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(GatewayCrd("gateways", "Gateway", "v1"));
        await WaitUntilAsync(() => Task.FromResult(minilb.Host.Informers.Single(i => i.Kind.Plural == "gateways").IsAbsent == false),
            "the Gateway informer starts once the CRD exists");
    }

    private static k8s.Models.V1CustomResourceDefinition GatewayCrd(string plural, string kind, string version) => new()
    {
        Metadata = new k8s.Models.V1ObjectMeta { Name = $"{plural}.gateway.networking.k8s.io" },
        Spec = new k8s.Models.V1CustomResourceDefinitionSpec
        {
            Group = "gateway.networking.k8s.io",
            Scope = "Namespaced",
            Names = new k8s.Models.V1CustomResourceDefinitionNames { Plural = plural, Kind = kind, Singular = kind.ToLowerInvariant() },
            Versions =
            [
                new k8s.Models.V1CustomResourceDefinitionVersion
                {
                    Name = version, Served = true, Storage = true,
                    Schema = new k8s.Models.V1CustomResourceValidation
                    {
                        OpenAPIV3Schema = new k8s.Models.V1JSONSchemaProps { Type = "object", XKubernetesPreserveUnknownFields = true },
                    },
                },
            ],
        },
    };
}
