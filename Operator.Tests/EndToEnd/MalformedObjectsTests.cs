using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using k8s;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Issue 7: odd objects stored by the API server (which checks little of an EndpointSlice's addresses or a Node's
/// podCIDRs) reach the operator; it skips what it cannot use and every other name keeps resolving.
/// </summary>
public sealed class MalformedObjectsTests : OperatorFixture
{
    [Test]
    public async Task Odd_Services_EndpointSlices_and_Nodes_are_skipped_and_the_rest_keeps_resolving()
    {
        await CreateConfigAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("good-node", ["192.168.1.11"], ["10.244.0.0/24"]));
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        await CreateServiceAsync("default", "good");
        await SetEndpointsAsync("default", "good", "10.244.0.5");
        await WaitUntilAsync(async () => await AddressesAsync(port, "good.default.minilb") is ["10.244.0.5"], "good answers");

        // The API server refuses a LoadBalancer Service without ports (422), so the odd ports are on the slice.
        await CreateServiceAsync("default", "no-ports");
        var oddSlice = TestObjects.Slice("default", "no-ports", "no-ports-1", "IPv4",
            [TestObjects.Endpoint(""), TestObjects.Endpoint("not-an-ip"), TestObjects.Endpoint("fd00::1"), new V1Endpoint { Addresses = null }, TestObjects.Endpoint("10.244.0.7")]);
        oddSlice.Ports = null;
        await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(oddSlice, "default");
        var longName = new string('x', 63);
        await CreateServiceAsync("default", longName);
        var many = Enumerable.Range(0, 3000).Select(i => $"10.245.{i / 256}.{i % 256}").ToArray();
        await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(TestObjects.Slice("default", longName, "long-1", "IPv4", TestObjects.Ready(many)), "default");
        var garbageNode = TestObjects.Node("garbage-node", [], ["not-a-cidr"]);
        await Client.CoreV1.CreateNodeAsync(garbageNode);
        await Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = new string('n', 253) }, Spec = new V1NodeSpec { PodCIDR = "10.244.9.0/24" } });

        await WaitUntilAsync(async () => await AddressesAsync(port, "no-ports.default.minilb") is ["10.244.0.7"], "the valid address of the odd slice");
        await WaitUntilAsync(async () => await AnswerCountAsync(port, $"{longName}.default.minilb") > 0, "the Service with 3,000 endpoints answers");
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.RoutesPublished)?.Message?.Contains("garbage-node") == true,
            "the odd node is reported in RoutesPublished");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "no-ports") == "no-ports.default.minilb", "the Service whose slice has no ports gets its hostname");

        Assert.That(await AddressesAsync(port, "good.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }));
        var status = (await ReadConfigAsync()).Status!;
        Assert.That(status.Routes!.Select(r => $"{r.Node} {r.PodCidr} {r.Via}"), Is.EqualTo(new[] { "good-node 10.244.0.0/24 192.168.1.11" }));
        Assert.That(Logs.All.Where(l => l.Contains("reconcile failed") || l.Contains("Exception")), Is.Empty, "no reconcile failed");
        Assert.That(Logs.All.Count(l => l.Contains("EndpointSlice default/no-ports-1: skipped 3")), Is.EqualTo(1), "the odd slice is logged once");
    }

    /// <summary>A records over TCP (a UDP answer for 3,000 addresses may be cut to none with TC=1).</summary>
    private static async Task<int> AnswerCountAsync(int port, string name)
    {
        using var client = new DnsClient([IPAddress.Loopback], [new TcpClientTransport(port)], disposeTransport: true, queryTimeout: 5000);
        var answer = await client.ResolveAsync(DomainName.Parse(name), RecordType.A);
        return answer?.AnswerRecords.OfType<ARecord>().Count() ?? 0;
    }
}
