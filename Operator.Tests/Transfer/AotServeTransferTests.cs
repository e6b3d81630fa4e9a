using System.Diagnostics;
using MiniLb.Operator.Tests.Controllers;
using MiniLb.Operator.Tests.EndToEnd;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>
/// The NativeAOT binary in snapshot mode with <c>--transfer-allow-from</c> and <c>--notify</c>: Knot, started first
/// and still without the zone, gets minilb's NOTIFY at start, transfers the zone and the nodes' reverse zones and
/// answers the snapshot's names and their PTRs; dig's AXFR sees the same zones.
/// </summary>
public sealed class AotServeTransferTests
{
    [Test]
    public async Task Knot_gets_the_zone_from_the_AOT_binary_after_its_NOTIFY_at_start()
    {
        if (SecondaryServer.Binary("knot") is null)
            Assert.Ignore("knotd is not installed (Debian package knot): no real secondary to transfer to");
        var port = OperatorFixture.FreePort();
        var knotPort = OperatorFixture.FreePort();
        string[] reverseZones = ["0.244.10.in-addr.arpa", "1.244.10.in-addr.arpa", "2.244.10.in-addr.arpa"]; // the snapshot's three podCIDRs
        using var knot = SecondaryServer.Start("knot", knotPort, "minilb", port, reverseZones); // nothing to transfer from yet

        await using var serve = AotBinary.Start("serve", "--snapshot", AotBinary.RepositoryFile("config/samples/cluster-snapshot.yaml"),
            "--listen", $"127.0.0.1:{port}", "--transfer-allow-from", "127.0.0.1/32", "--notify", $"127.0.0.1:{knotPort}");
        var clock = Stopwatch.StartNew();
        await serve.WaitForOutputAsync("Press Ctrl-C to stop.");
        Assert.That(serve.Output, Does.Contain("Zone transfer: transfers allowed from 127.0.0.1/32; NOTIFY to 127.0.0.1:" + knotPort));
        var name = AotBinary.ServedNames(serve.Output).First();
        var expected = await OperatorFixture.AddressesAsync(port, name);
        Assert.That(expected, Is.Not.Null.And.Not.Empty, $"minilb answers {name}");

        try
        {
            await OperatorFixture.WaitUntilAsync(async () => (await knot.AddressesAsync(name)).SequenceEqual(expected!), $"Knot answers {name} itself");
            await OperatorFixture.WaitUntilAsync(async () => (await knot.PointersAsync(expected![0])).Contains(name + "."), $"Knot answers kdig -x {expected![0]} itself");
        }
        catch (AssertionException)
        {
            TestContext.Out.WriteLine("knotd log:\n" + knot.Log);
            throw;
        }
        TestContext.Out.WriteLine($"AOT serve started → Knot answers {name} after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.That(knot.Log, Does.Contain("NOTIFY").IgnoreCase);

        var dig = Process.Start(new ProcessStartInfo("dig", ["@127.0.0.1", "-p", port.ToString(), "minilb", "AXFR", "+tries=1"]) { RedirectStandardOutput = true })!;
        var axfr = await dig.StandardOutput.ReadToEndAsync();
        await dig.WaitForExitAsync();
        Assert.That(axfr, Does.Contain(";; XFR size:").And.Contain(name + ".\t"), "dig's AXFR from the AOT binary");
        var reverse = Process.Start(new ProcessStartInfo("dig", ["@127.0.0.1", "-p", port.ToString(), "0.244.10.in-addr.arpa", "AXFR", "+tries=1"]) { RedirectStandardOutput = true })!;
        var reverseAxfr = await reverse.StandardOutput.ReadToEndAsync();
        await reverse.WaitForExitAsync();
        Assert.That(reverseAxfr, Does.Contain(";; XFR size:").And.Contain("PTR"), "dig's AXFR of a reverse zone");
        Assert.That(await serve.StopAsync(), Is.Zero, serve.Error);
    }
}
