using MiniLb.Operator.Cli;

namespace MiniLb.Operator.Tests.Cli;

public class RoutesCommandTests
{
    [Test]
    public async Task Prints_the_routes_of_the_sample_in_ip_format_by_default()
    {
        var run = await CliRun.RunAsync("routes", "--snapshot", TestObjects.SampleSnapshot);

        Assert.That(run.ExitCode, Is.Zero, run.Error);
        Assert.That(run.Output.TrimEnd('\n').Split('\n'), Is.EqualTo(new[]
        {
            "ip route add 10.244.0.0/24 via 192.168.1.30",
            "ip route add 10.244.1.0/24 via 192.168.1.31",
            "ip route add 10.244.2.0/24 via 192.168.1.32",
            "ip route add fd00:10:244:2::/64 via fd00:192:168:1::32",
        }));
        Assert.That(run.Error, Is.Empty);
    }

    [TestCase("bsd", "route -n add -net 10.244.0.0/24 192.168.1.30")]
    [TestCase("routeros", "/ip route add dst-address=10.244.0.0/24 gateway=192.168.1.30")]
    [TestCase("openwrt", "uci set network.@route[-1].target='10.244.0.0/24'")]
    [TestCase("dnsmasq", "dhcp-option=121,10.244.0.0/24,192.168.1.30,10.244.1.0/24,192.168.1.31,10.244.2.0/24,192.168.1.32")]
    [TestCase("json", "\"destination\": \"10.244.0.0/24\"")]
    public async Task Prints_each_format(string format, string line)
    {
        var run = await CliRun.RunAsync("routes", "--snapshot", TestObjects.SampleSnapshot, "--format", format);

        Assert.That(run.ExitCode, Is.Zero, run.Error);
        Assert.That(run.Output, Does.Contain(line));
    }

    [Test]
    public async Task Nodes_without_routes_are_reported_on_stderr()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """
                apiVersion: v1
                kind: Node
                metadata: {name: calico-node}
                status: {addresses: [{type: InternalIP, address: 192.168.1.40}]}
                """);
            var run = await CliRun.RunAsync("routes", "--snapshot", file);

            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.Output, Is.Empty);
            Assert.That(run.Error, Does.Contain("node calico-node gets no route").And.Contain("podCIDRs"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task An_unknown_format_is_bad_input()
    {
        var run = await CliRun.RunAsync("routes", "--snapshot", TestObjects.SampleSnapshot, "--format", "cisco");

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("cisco"));
    }

    [Test]
    public async Task No_snapshot_is_bad_input()
    {
        var run = await CliRun.RunAsync("routes");

        Assert.That(run.ExitCode, Is.EqualTo(CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("--snapshot"));
    }
}
