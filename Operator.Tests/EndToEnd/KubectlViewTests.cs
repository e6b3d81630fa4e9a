using k8s;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>What `kubectl get minilbconfig` shows a user while the operator runs.</summary>
public sealed class KubectlViewTests : OperatorFixture
{
    private async Task RunningWithTwoNodesAsync()
    {
        await CreateConfigAsync(domain: "lan.example");
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-b", ["192.168.1.12"], ["10.244.1.0/24"]));
        await StartOperatorAsync();
        await WaitUntilAsync(async () => (await ReadConfigAsync()).Status?.Routes?.Count == 2
            && ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)?.Status == Condition.True, "routes and Ready");
    }

    [Test]
    public async Task Get_as_yaml_shows_the_routes()
    {
        var kubectl = Tool("kubectl");
        await RunningWithTwoNodesAsync();

        var result = await kubectl.RunAsync(["get", "minilbconfig", "default", "-o", "yaml"]);

        Succeeded(result);
        Assert.That(result.Stdout, Does.Contain("podCIDR: 10.244.0.0/24").And.Contain("via: 192.168.1.12")
            .And.Contain("ip route add 10.244.1.0/24 via 192.168.1.12").And.Contain("type: RoutesPublished"));
    }

    [Test]
    public async Task Get_shows_the_printer_columns()
    {
        var kubectl = Tool("kubectl");
        await RunningWithTwoNodesAsync();

        var result = await kubectl.RunAsync(["get", "minilbconfig"]);

        Succeeded(result);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "NAME", "DOMAIN", "TTL", "LISTEN", "ROUTES", "READY", "AGE" }));
        var row = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // ROUTES: reachable of routed nodes, one status field (a JSONPath over the routes would show only the first).
        Assert.That(row[..6], Is.EqualTo(new[] { "default", "lan.example", "5", row[3], "2/2", "True" }));
        Assert.That(row[3], Does.StartWith("127.0.0.1:"));
    }
}
