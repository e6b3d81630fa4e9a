using System.Text.Json;
using MiniLb.Operator.Routes;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Routes;

public class RoutePlanTests
{
    private static readonly RoutePlan Plan = RoutePlan.FromNodes([
        Node("node-2", ["192.168.1.31"], ["10.244.1.0/24"]),
        Node("node-1", ["192.168.1.30"], ["10.244.0.0/24"]),
        Node("node-3", ["192.168.1.32", "fd00::32"], ["10.244.2.0/24", "fd00:10:244:2::/64"]),
    ]);

    [Test]
    public void Each_pod_cidr_goes_via_the_internal_ip_of_its_family()
    {
        Assert.That(Plan.Routes.Select(r => $"{r.Node} {r.Destination} {r.Gateway}"), Is.EqualTo(new[]
        {
            "node-1 10.244.0.0/24 192.168.1.30",
            "node-2 10.244.1.0/24 192.168.1.31",
            "node-3 10.244.2.0/24 192.168.1.32",
            "node-3 fd00:10:244:2::/64 fd00::32",
        }));
        Assert.That(Plan.Problems, Is.Empty);
    }

    [Test]
    public void Nodes_that_cannot_be_routed_are_reported_with_a_reason()
    {
        var plan = RoutePlan.FromNodes([
            Node("no-cidr", ["192.168.1.40"], []),
            Node("v4-only", ["192.168.1.41"], ["10.244.5.0/24", "fd00:10:244:5::/64"]),
            Node("bad-cidr", ["192.168.1.42"], ["10.244.6.0"]),
        ]);

        Assert.That(plan.Routes.Select(r => r.Node), Is.EqualTo(new[] { "v4-only" }));
        var reasons = plan.Problems.ToDictionary(p => p.Node, p => p.Reason);
        Assert.That(reasons["no-cidr"], Does.Contain("podCIDRs"));
        Assert.That(reasons["v4-only"], Does.Contain("IPv6 InternalIP").And.Contain("fd00:10:244:5::/64"));
        Assert.That(reasons["bad-cidr"], Does.Contain("'10.244.6.0'"));
    }

    [Test]
    public void Linux_format()
    {
        Assert.That(RouteFormats.Render(Plan, "ip").Split('\n')[0], Is.EqualTo("ip route add 10.244.0.0/24 via 192.168.1.30"));
        Assert.That(RouteFormats.Render(Plan, "ip"), Does.Contain("ip route add fd00:10:244:2::/64 via fd00::32\n"));
    }

    [Test]
    public void Bsd_format()
    {
        var text = RouteFormats.Render(Plan, "bsd");
        Assert.That(text, Does.StartWith("route -n add -net 10.244.0.0/24 192.168.1.30\n"));
        Assert.That(text, Does.Contain("route -n add -inet6 fd00:10:244:2::/64 fd00::32\n"));
    }

    [Test]
    public void RouterOS_format()
    {
        var text = RouteFormats.Render(Plan, "routeros");
        Assert.That(text, Does.StartWith("/ip route add dst-address=10.244.0.0/24 gateway=192.168.1.30 comment=\"minilb node-1\"\n"));
        Assert.That(text, Does.Contain("/ipv6 route add dst-address=fd00:10:244:2::/64 gateway=fd00::32"));
    }

    [Test]
    public void OpenWrt_format_is_uci_commands_then_commit()
    {
        var lines = RouteFormats.Render(Plan, "openwrt").TrimEnd('\n').Split('\n');
        Assert.That(lines.Take(4), Is.EqualTo(new[]
        {
            "uci add network route",
            "uci set network.@route[-1].interface='lan'",
            "uci set network.@route[-1].target='10.244.0.0/24'",
            "uci set network.@route[-1].gateway='192.168.1.30'",
        }));
        Assert.That(lines, Does.Contain("uci add network route6"));
        Assert.That(lines[^2..], Is.EqualTo(new[] { "uci commit network", "/etc/init.d/network reload" }));
    }

    [Test]
    public void Dnsmasq_format_is_one_option_121_line_for_ipv4_and_says_why_ipv6_is_missing()
    {
        var lines = RouteFormats.Render(Plan, "dnsmasq").TrimEnd('\n').Split('\n');
        var options = lines.Where(l => l.StartsWith("dhcp-option=", StringComparison.Ordinal)).ToArray();
        Assert.That(options, Is.EqualTo(new[] { "dhcp-option=121,10.244.0.0/24,192.168.1.30,10.244.1.0/24,192.168.1.31,10.244.2.0/24,192.168.1.32" }));
        Assert.That(lines.Single(l => l.Contains("fd00:10:244:2::/64")), Does.StartWith("#").And.Contain("IPv4"));
        Assert.That(lines[0], Does.StartWith("#").And.Contain("0.0.0.0/0"), "option 121 replaces the default router; the user must be told");
    }

    [Test]
    public void Json_format_holds_routes_and_problems()
    {
        var plan = RoutePlan.FromNodes([Node("node-1", ["192.168.1.30"], ["10.244.0.0/24"]), Node("bare", ["192.168.1.40"], [])]);
        using var json = JsonDocument.Parse(RouteFormats.Render(plan, "json"));

        var route = json.RootElement.GetProperty("routes")[0];
        Assert.That(route.GetProperty("node").GetString(), Is.EqualTo("node-1"));
        Assert.That(route.GetProperty("destination").GetString(), Is.EqualTo("10.244.0.0/24"));
        Assert.That(route.GetProperty("gateway").GetString(), Is.EqualTo("192.168.1.30"));
        Assert.That(json.RootElement.GetProperty("problems")[0].GetProperty("node").GetString(), Is.EqualTo("bare"));
    }

    [Test]
    public void Unknown_format_is_refused_by_name()
    {
        Assert.That(() => RouteFormats.Render(Plan, "cisco"), Throws.ArgumentException.With.Message.Contains("'cisco'"));
    }

    [TestCase("ip")]
    [TestCase("bsd")]
    [TestCase("routeros")]
    [TestCase("openwrt")]
    [TestCase("dnsmasq")]
    [TestCase("isc-dhcpd")]
    public void The_text_of_a_format_is_its_lines(string format)
    {
        Assert.That(RouteFormats.Render(Plan, format), Is.EqualTo(string.Concat(RouteFormats.Lines(Plan, format).Select(l => l + "\n"))));
    }

    [Test]
    public void The_banner_shows_the_ip_lines_and_the_nodes_without_a_route()
    {
        var plan = RoutePlan.FromNodes([Node("node-1", ["192.168.1.30"], ["10.244.0.0/24"]), Node("no-cidr", ["192.168.1.40"], [])]);

        var banner = RouteFormats.Banner(plan).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.That(banner[0], Is.EqualTo(RouteFormats.RouterHeading));
        Assert.That(banner[1..^1], Is.EqualTo(RouteFormats.Lines(plan, "ip")));
        Assert.That(banner[^1], Does.StartWith("  not routed: node no-cidr: no spec.podCIDRs"));
    }
}
