using System.Diagnostics;
using MiniLb.Operator.Routes;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Routes;

public class DhcpOption121Tests
{
    /// <summary><paramref name="count"/> nodes with a /24 pod network each, named so that they sort in creation order.</summary>
    private static RoutePlan Nodes(int count) => RoutePlan.FromNodes(Enumerable.Range(0, count)
        .Select(i => Node($"node-{i:D3}", [$"192.0.2.{10 + i}"], [$"198.18.{i}.0/24"])));

    [Test]
    public void Each_route_takes_the_octets_rfc_3442_gives_it()
    {
        Route Via(string cidr) => new("n", System.Net.IPNetwork.Parse(cidr), System.Net.IPAddress.Parse("192.0.2.1"));

        // Width octet + significant destination octets + 4-octet router.
        Assert.That(DhcpOption121.EncodedLength(Via("198.18.0.0/24")), Is.EqualTo(1 + 3 + 4));
        Assert.That(DhcpOption121.EncodedLength(Via("198.18.0.0/15")), Is.EqualTo(1 + 2 + 4));
        Assert.That(DhcpOption121.EncodedLength(Via("198.18.0.128/25")), Is.EqualTo(1 + 4 + 4));
        Assert.That(DhcpOption121.EncodedLength(Via("0.0.0.0/0")), Is.EqualTo(DhcpOption121.DefaultRouteOctets));
    }

    [Test]
    public void Thirty_one_node_routes_and_the_default_route_fit_and_the_thirty_second_is_left_out()
    {
        var fits = DhcpOption121.From(Nodes(31));
        Assert.That(fits.Fits, Is.True);
        Assert.That(fits.Octets, Is.EqualTo(31 * 8 + 5).And.LessThanOrEqualTo(255));
        Assert.That(fits.Problem, Is.Null);

        var full = DhcpOption121.From(Nodes(50));
        Assert.That(full.Carried, Has.Count.EqualTo(31));
        Assert.That(full.LeftOut.Select(r => r.Node), Is.EqualTo(Enumerable.Range(31, 19).Select(i => $"node-{i:D3}")));
        Assert.That(full.Problem, Does.Contain("19 of 50").And.Contain("255").And.Contain("node-031").And.Contain("and 14 more"));
    }

    [Test]
    public void Dnsmasq_format_says_what_was_left_out_and_why()
    {
        var lines = RouteFormats.Render(Nodes(50), "dnsmasq").TrimEnd('\n').Split('\n');

        var option = lines.Single(l => l.StartsWith("dhcp-option=121,", StringComparison.Ordinal));
        Assert.That(option, Does.Contain("198.18.30.0/24").And.Not.Contain("198.18.31.0/24"));
        Assert.That(lines, Has.Some.StartsWith("# 19 of 50 IPv4 routes do not fit in DHCP option 121"));
        Assert.That(lines, Does.Contain("# not in option 121 (no room): 198.18.49.0/24 via 192.0.2.59 (node-049)"));
    }

    [Test]
    public void Routes_are_encoded_as_rfc_3442_says()
    {
        var plan = RoutePlan.FromNodes([Node("a", ["192.0.2.11"], ["198.18.1.0/24"]), Node("b", ["192.0.2.12"], ["198.18.0.0/15"])]);
        Assert.That(plan.Routes.Select(r => DhcpOption121.Encode(r).ToArray()), Is.EqualTo(new[]
        {
            new byte[] { 24, 198, 18, 1, 192, 0, 2, 11 },
            [15, 198, 18, 192, 0, 2, 12],
        }));
    }

    [Test]
    public void Isc_dhcpd_format_carries_every_route_however_many()
    {
        var lines = RouteFormats.Render(Nodes(50), "isc-dhcpd").TrimEnd('\n').Split('\n');

        Assert.That(lines, Does.Contain("option rfc3442-classless-static-routes code 121 = array of integer 8;"));
        var value = lines.Single(l => IsIscValue(l));
        Assert.That(value.Split(',').Length, Is.EqualTo(50 * 8), "all fifty routes: dhcpd splits the option itself (RFC 3396)");
        Assert.That(value, Does.StartWith("option rfc3442-classless-static-routes 24, 198, 18, 0, 192, 0, 2, 10, 24,"));
    }

    [Test]
    public async Task Isc_dhcpd_accepts_the_printed_lines_for_fifty_nodes()
    {
        if (!File.Exists("/usr/sbin/dhcpd"))
            Assert.Ignore("ISC dhcpd is not installed (Debian: isc-dhcp-server; .ci/run installs it)");
        var conf = Path.GetTempFileName();
        try
        {
            var printed = RouteFormats.Render(Nodes(50), "isc-dhcpd").Split('\n').Select(l => WithIscDefaultRoute(l, "0, 192, 0, 2, 1"));
            await File.WriteAllTextAsync(conf, string.Join('\n', printed) + "\nsubnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.100 192.0.2.150; }\n");
            using var process = Process.Start(new ProcessStartInfo("/usr/sbin/dhcpd", ["-t", "-4", "-cf", conf]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var output = await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.That(process.ExitCode, Is.Zero, output);
        }
        finally
        {
            File.Delete(conf);
        }
    }

    private static bool IsIscValue(string line) =>
        line.StartsWith("option rfc3442-classless-static-routes ", StringComparison.Ordinal) && !line.Contains(" code 121 ", StringComparison.Ordinal);

    /// <summary>The printed value line with the default route appended, as its comment asks.</summary>
    public static string WithIscDefaultRoute(string line, string defaultRoute) =>
        IsIscValue(line) ? line.TrimEnd(';') + ", " + defaultRoute + ";" : line;

    /// <summary>The real dnsmasq is the judge: it refuses to start with an option over 255 octets.</summary>
    [TestCase(31)]
    [TestCase(32)]
    [TestCase(50)]
    public async Task Dnsmasq_accepts_the_printed_line_with_the_default_route_appended(int nodes)
    {
        var line = RouteFormats.Render(Nodes(nodes), "dnsmasq").Split('\n').Single(l => l.StartsWith("dhcp-option=121,", StringComparison.Ordinal))
            + ",0.0.0.0/0,192.0.2.1";
        var (code, output) = await DnsmasqTestAsync(line);
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("syntax check OK"));
    }

    [Test]
    public async Task Dnsmasq_refuses_one_route_more_than_minilb_prints()
    {
        // The check above is only worth something if dnsmasq really enforces the limit at 32 routes.
        var all = Nodes(32).Routes.Select(r => $"{r.Destination},{r.Gateway}");
        var (code, output) = await DnsmasqTestAsync("dhcp-option=121," + string.Join(",", all) + ",0.0.0.0/0,192.0.2.1");
        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Does.Contain("dhcp-option too long"));
    }

    private static async Task<(int Code, string Output)> DnsmasqTestAsync(string line)
    {
        var dnsmasq = new[] { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq" }.FirstOrDefault(File.Exists);
        if (dnsmasq is null)
            Assert.Ignore("dnsmasq is not installed (Debian: dnsmasq-base; .ci/run installs it)");
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, line + "\n");
            using var process = Process.Start(new ProcessStartInfo(dnsmasq!, ["--test", "--conf-file=" + file])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
