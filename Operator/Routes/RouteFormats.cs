using System.Net;
using System.Text;
using System.Text.Json;

namespace MiniLb.Operator.Routes;

/// <summary>The route plan written for a given router or host.</summary>
public static class RouteFormats
{
    /// <summary>The line above the routes printed for people (serve, run's log).</summary>
    public const string RouterHeading = "Add the following routes to your default gateway (router):";

    public static IReadOnlyList<string> Names { get; } = ["ip", "bsd", "routeros", "openwrt", "dnsmasq", "isc-dhcpd", "json"];

    /// <summary>
    /// Text to paste into the router: one command or line per route, with comments where a format cannot carry
    /// a route. Problems are left to the caller, except in <c>json</c>, which holds both.
    /// </summary>
    public static string Render(RoutePlan plan, string format) => format == "json" ? Json(plan) : Text(Lines(plan, format));

    /// <summary>
    /// The lines of <see cref="Render"/>, for every format but <c>json</c> (a document, not lines). The <c>ip</c> lines
    /// are the one route report: status.router, `minilb routes --format ip` and the start banner of run and serve.
    /// </summary>
    public static IReadOnlyList<string> Lines(RoutePlan plan, string format) => format switch
    {
        "ip" => [.. plan.Routes.Select(r => $"ip route add {r.Destination} via {r.Gateway}")],
        "bsd" => [.. plan.Routes.Select(r => $"route -n add {(r.IsIPv6 ? "-inet6" : "-net")} {r.Destination} {r.Gateway}")],
        "routeros" => [.. plan.Routes.Select(r => $"/{(r.IsIPv6 ? "ipv6" : "ip")} route add dst-address={r.Destination} gateway={r.Gateway} comment=\"minilb {r.Node}\"")],
        "openwrt" => OpenWrt(plan),
        "dnsmasq" => Dnsmasq(plan),
        "isc-dhcpd" => IscDhcpd(plan),
        _ => throw new ArgumentException($"unknown route format '{format}'; expected one of {string.Join(", ", Names)}", nameof(format)),
    };

    /// <summary>The routes for people (the start of run and serve, run's log): the heading, the <c>ip</c> lines, the nodes without a route.</summary>
    public static string Banner(RoutePlan plan) =>
        Text([RouterHeading, .. Lines(plan, "ip"), .. plan.Problems.Select(p => $"  not routed: node {p.Node}: {p.Reason}")]);

    private static string Text(IEnumerable<string> lines)
    {
        var text = new StringBuilder();
        foreach (var line in lines)
            text.Append(line).Append('\n');
        return text.ToString();
    }

    /// <summary>UCI commands; the routes live on the <c>lan</c> interface.</summary>
    private static List<string> OpenWrt(RoutePlan plan)
    {
        if (plan.Routes.Count == 0)
            return [];
        var lines = new List<string>();
        foreach (var route in plan.Routes)
        {
            var section = route.IsIPv6 ? "route6" : "route";
            lines.Add($"uci add network {section}");
            lines.Add($"uci set network.@{section}[-1].interface='lan'");
            lines.Add($"uci set network.@{section}[-1].target='{route.Destination}'");
            lines.Add($"uci set network.@{section}[-1].gateway='{route.Gateway}'");
        }
        lines.Add("uci commit network");
        lines.Add("/etc/init.d/network reload");
        return lines;
    }

    /// <summary>
    /// DHCP option 121 (RFC 3442 classless static routes) so LAN clients reach pods directly. A client that
    /// accepts option 121 ignores the router option (3), so the default route must be added to the same line.
    /// </summary>
    private static List<string> Dnsmasq(RoutePlan plan)
    {
        var lines = new List<string>();
        var option = DhcpOption121.From(plan);
        if (option.DnsmasqLine is { } line)
        {
            lines.Add("# RFC 3442: clients that use option 121 ignore option 3 (router); append 0.0.0.0/0,<router address> to keep the default route.");
            lines.Add(line);
        }
        if (option.Problem is { } problem)
        {
            // A longer option would stop dnsmasq from starting at all; the rest goes through the router.
            lines.Add("# " + problem);
            foreach (var route in option.LeftOut)
                lines.Add($"# not in option 121 (no room): {route.Destination} via {route.Gateway} ({route.Node})");
        }
        foreach (var route in plan.Routes.Where(r => r.IsIPv6))
            lines.Add($"# not in option 121 (DHCPv4 carries IPv4 routes only): {route.Destination} via {route.Gateway} ({route.Node})");
        return lines;
    }

    /// <summary>
    /// Option 121 for ISC dhcpd, which splits an option longer than 255 octets into several (RFC 3396), so
    /// every IPv4 route fits; RFC 3396 clients (ISC dhclient, systemd-networkd) join them again.
    /// </summary>
    private static List<string> IscDhcpd(RoutePlan plan)
    {
        var v4 = plan.Routes.Where(r => !r.IsIPv6).ToArray();
        var lines = new List<string>();
        if (v4.Length > 0)
        {
            lines.Add("# RFC 3442: clients that use option 121 ignore option 3 (routers); append \", 0, <router address octets>\" (e.g. 0, 192, 168, 1, 1) before the ';' to keep the default route.");
            lines.Add("option rfc3442-classless-static-routes code 121 = array of integer 8;");
            lines.Add("option rfc3442-classless-static-routes " + string.Join(", ", v4.SelectMany(DhcpOption121.Encode)) + ";");
        }
        foreach (var route in plan.Routes.Where(r => r.IsIPv6))
            lines.Add($"# not in option 121 (DHCPv4 carries IPv4 routes only): {route.Destination} via {route.Gateway} ({route.Node})");
        return lines;
    }

    private static string Json(RoutePlan plan)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("routes");
            foreach (var route in plan.Routes)
            {
                json.WriteStartObject();
                json.WriteString("node", route.Node);
                json.WriteString("destination", route.Destination.ToString());
                json.WriteString("gateway", route.Gateway.ToString());
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("problems");
            foreach (var problem in plan.Problems)
            {
                json.WriteStartObject();
                json.WriteString("node", problem.Node);
                json.WriteString("reason", problem.Reason);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
