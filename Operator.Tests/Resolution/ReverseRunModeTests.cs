using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>Run mode: the reverse zones follow the Nodes' podCIDRs and the PTRs the endpoints, as a user changes them with kubectl.</summary>
public sealed class ReverseRunModeTests : OperatorFixture
{
    private const string Pointer = "5.0.244.10.in-addr.arpa";

    private static async Task<(ReturnCode Code, string[] Names)> PtrAsync(int port, string name)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (await QueryAsync(port, name, RecordType.Ptr) is { } answer)
                return (answer.ReturnCode, [.. answer.AnswerRecords.OfType<PtrRecord>().Select(p => p.PointerDomainName.ToString(false))]);
        }
        return (ReturnCode.ServerFailure, []);
    }

    [Test]
    public async Task A_node_applied_with_kubectl_brings_its_reverse_zone_and_PTRs_follow_the_endpoints()
    {
        var kubectl = Tool("kubectl");
        var (_, port) = await ServingWebAsync(); // web.default.minilb → 10.244.0.5
        Assert.That((await PtrAsync(port, Pointer)).Code, Is.EqualTo(ReturnCode.Refused), "no node has 10.244.0.0/24 yet");

        var node = Path.Combine(Scratch, "node.yaml");
        await File.WriteAllTextAsync(node, """
            apiVersion: v1
            kind: Node
            metadata: {name: node-a}
            spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24]}
            status: {addresses: [{type: InternalIP, address: 192.168.1.11}]}
            """);
        Assert.That((await kubectl.RunAsync(["apply", "-f", node])).ExitCode, Is.Zero);
        await WaitUntilAsync(async () => await PtrAsync(port, Pointer) is (ReturnCode.NoError, ["web.default.minilb"]), "the PTR answers once the node is known");

        await SetEndpointsAsync("default", "web", "10.244.0.6");
        await WaitUntilAsync(async () => await PtrAsync(port, "6.0.244.10.in-addr.arpa") is (ReturnCode.NoError, ["web.default.minilb"]), "the new pod's PTR");
        Assert.That((await PtrAsync(port, Pointer)).Code, Is.EqualTo(ReturnCode.NxDomain), "the old pod's PTR is gone");

        Assert.That((await kubectl.RunAsync(["delete", "node", "node-a"])).ExitCode, Is.Zero);
        await WaitUntilAsync(async () => (await PtrAsync(port, "6.0.244.10.in-addr.arpa")).Code == ReturnCode.Refused, "the zone leaves with its node");
    }
}
