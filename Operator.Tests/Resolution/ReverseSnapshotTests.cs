using System.Diagnostics;
using MiniLb.Operator.Tests.Cli;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>Snapshot mode: `minilb serve` lists the reverse zones of the snapshot's nodes and answers `dig -x`.</summary>
public class ReverseSnapshotTests
{
    [Test]
    public async Task Serve_lists_the_reverse_zones_and_dig_x_gets_the_Service_name()
    {
        var dig = CliTool.Locate("dig");
        if (dig is null)
            Assert.Ignore("dig is not installed (Debian: bind9-dnsutils)");
        await using var serve = new CliRun.Serving("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0");
        var port = await serve.PortAsync();

        Assert.That(serve.Output.ToString(), Does.Contain("Reverse zones (PTR for the addresses above): 0.244.10.in-addr.arpa, 1.244.10.in-addr.arpa, " +
            "2.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa, 2.244.10.in-addr.arpa"), "one per podCIDR of the sample's nodes");
        Assert.That(await DigAsync(dig!, port, "-x", "10.244.0.11", "+short"), Is.EqualTo("web.default.minilb.\n"));
        Assert.That(await DigAsync(dig!, port, "-x", "fd00:10:244:2::21", "+short"), Is.EqualTo("api.default.minilb.\n"));
        var missing = await DigAsync(dig!, port, "-x", "10.244.0.250");
        Assert.That(missing, Does.Contain("status: NXDOMAIN").And.Contain("flags: qr aa").And.Match(@"0\.244\.10\.in-addr\.arpa\.\s+5\s+IN\s+SOA\s+ns1\.minilb\. hostmaster\.minilb\."));
        Assert.That(await DigAsync(dig!, port, "-x", "10.99.0.1"), Does.Contain("status: REFUSED"), "no node has that podCIDR");
    }

    private static async Task<string> DigAsync(string dig, int port, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(dig, ["@127.0.0.1", "-p", port.ToString(), "+norec", "+tries=3", "+time=2", .. args]) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }
}
