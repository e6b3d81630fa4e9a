using System.Net;
using System.Text.RegularExpressions;

namespace MiniLb.Operator.Tests.Lab;

/// <summary>
/// The home lab in a box: a LAN bridge in a router namespace (dnsmasq as DHCP server and resolver, the routes
/// minilb printed in its routing table), three node namespaces whose pods answer HTTP with their own name, and a
/// client namespace configured over DHCP. Only documentation and benchmark ranges are used: the LAN is
/// 192.0.2.0/24 and 2001:db8::/64, node N's pods are in 198.18.N.0/24 (node 3 also 2001:db8:3::/64). Nothing is
/// routed off the machine: no namespace has a route out, and the host's own namespace is not touched.
/// </summary>
public sealed partial class HomeLab : IAsyncDisposable
{
    public const string RouterIp = "192.0.2.1";
    public const string RouterIp6 = "2001:db8::1";
    public const int Nodes = 3;
    public const string Ipv6Pod = "2001:db8:3::10";

    private readonly List<IAsyncDisposable> running = [];
    private readonly List<string> namespaces = [];
    private readonly TextWriter log;

    private HomeLab(TextWriter log)
    {
        this.log = log;
        // The pid in the names lets a later run remove what an interrupted one left behind.
        Prefix = $"mlb{Environment.ProcessId % 100000}";
        Directory = System.IO.Directory.CreateTempSubdirectory("minilb-lab-").FullName;
    }

    /// <summary>Namespace and interface name prefix of this run.</summary>
    public string Prefix { get; }

    /// <summary>Where configuration files, leases and pid files go.</summary>
    public string Directory { get; }

    public string Router => $"{Prefix}-rtr";
    public string Client => $"{Prefix}-cli";
    public string Node(int n) => $"{Prefix}-n{n}";
    public static string NodeIp(int n) => $"192.0.2.{10 + n}";
    public static string NodeIp6(int n) => $"2001:db8::{10 + n}";
    public static string PodCidr(int n) => $"198.18.{n}.0/24";

    /// <summary>The pods of node <paramref name="n"/>: name and address (node 3 also has an IPv6 pod).</summary>
    public static IReadOnlyList<(string Name, string Address)> PodsOf(int n) => n == 3
        ? [($"web-{n}", $"198.18.{n}.10"), ("web-v6", Ipv6Pod)]
        : [($"web-{n}", $"198.18.{n}.10")];

    public static string LabFile(string name) => EndToEnd.AotBinary.RepositoryFile(Path.Combine("lab", name));

    /// <summary>Builds the network and starts the pods; on failure everything made so far is removed.</summary>
    public static async Task<HomeLab> CreateAsync(TextWriter log)
    {
        await RemoveLeftoversAsync(log);
        var lab = new HomeLab(log);
        try
        {
            await lab.BuildAsync();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private async Task IpAsync(params string[] args) => (await Netns.RunAsync("ip", args)).Check("ip " + string.Join(' ', args));

    private async Task BuildAsync()
    {
        foreach (var ns in new[] { Router, Client }.Concat(Enumerable.Range(1, Nodes).Select(Node)))
        {
            await IpAsync("netns", "add", ns);
            namespaces.Add(ns);
            await IpAsync("-n", ns, "link", "set", "lo", "up");
        }
        await IpAsync("-n", Router, "link", "add", "br0", "type", "bridge");
        await IpAsync("-n", Router, "link", "set", "br0", "up");
        await IpAsync("-n", Router, "addr", "add", RouterIp + "/24", "dev", "br0");
        await IpAsync("-n", Router, "addr", "add", RouterIp6 + "/64", "dev", "br0", "nodad");
        (await Netns.ExecAsync(Router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")).Check("router forwarding");

        var port = 0;
        foreach (var member in Enumerable.Range(1, Nodes).Select(Node).Append(Client))
        {
            port++;
            var (bridgeSide, memberSide) = ($"{Prefix}b{port}", $"{Prefix}m{port}");
            await IpAsync("link", "add", bridgeSide, "type", "veth", "peer", "name", memberSide);
            await IpAsync("link", "set", bridgeSide, "netns", Router);
            await IpAsync("link", "set", memberSide, "netns", member);
            await IpAsync("-n", Router, "link", "set", bridgeSide, "master", "br0", "up");
            await IpAsync("-n", member, "link", "set", memberSide, "name", "lan0");
            await IpAsync("-n", member, "link", "set", "lan0", "up");
        }

        for (var n = 1; n <= Nodes; n++)
        {
            var node = Node(n);
            await IpAsync("-n", node, "addr", "add", NodeIp(n) + "/24", "dev", "lan0");
            await IpAsync("-n", node, "addr", "add", NodeIp6(n) + "/64", "dev", "lan0", "nodad");
            // The pod network: pod addresses are the node's own, as a CNI bridge makes them reachable through the node.
            // (A veth pair, not a dummy: container kernels often lack the dummy module.)
            await IpAsync("-n", node, "link", "add", "pods", "type", "veth", "peer", "name", "pods-peer");
            await IpAsync("-n", node, "link", "set", "pods-peer", "up");
            await IpAsync("-n", node, "link", "set", "pods", "up");
            await IpAsync("-n", node, "addr", "add", $"198.18.{n}.1/24", "dev", "pods");
            if (n == 3)
                await IpAsync("-n", node, "addr", "add", "2001:db8:3::1/64", "dev", "pods", "nodad");
            foreach (var (name, address) in PodsOf(n))
            {
                await IpAsync(address.Contains(':') ? ["-n", node, "addr", "add", address + "/128", "dev", "pods", "nodad"] : ["-n", node, "addr", "add", address + "/32", "dev", "pods"]);
                running.Add(new LabProcess(node, "python3", LabFile("pod.py"), address, name));
            }
        }
        // The client has no DHCPv6 here: a static address, and the router as IPv6 gateway.
        await IpAsync("-n", Client, "addr", "add", "2001:db8::100/64", "dev", "lan0", "nodad");
        await IpAsync("-n", Client, "-6", "route", "add", "default", "via", RouterIp6);
        log.WriteLine($"lab: namespaces {string.Join(", ", namespaces)}; LAN 192.0.2.0/24 and 2001:db8::/64 on {Router}'s br0");
    }

    /// <summary>Each `ip route add …` line of `minilb routes --format ip`, applied to the router's routing table.</summary>
    public async Task ApplyRouterRoutesAsync(IEnumerable<string> lines)
    {
        foreach (var line in lines.Where(l => l.StartsWith("ip route add ", StringComparison.Ordinal)))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            await IpAsync(["-n", Router, .. words[1..]]);
        }
    }

    /// <summary>dnsmasq as the router's DHCP server and resolver, with the docs' forwarding lines and the given option 121 line.</summary>
    public async Task StartDnsmasqAsync(string minilbAddress, string option121)
    {
        var conf = Path.Combine(Directory, "dnsmasq.conf");
        await File.WriteAllLinesAsync(conf,
        [
            "interface=br0",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "stop-dns-rebind",
            // docs/forwarding.md, "dnsmasq and Pi-hole":
            $"server=/minilb/{minilbAddress}",
            "rebind-domain-ok=/minilb/",
            "dhcp-range=192.0.2.100,192.0.2.150,12h",
            $"dhcp-option=3,{RouterIp}",
            // `minilb routes --format dnsmasq`, with the default route its comment asks for (RFC 3442):
            $"{option121},0.0.0.0/0,{RouterIp}",
            $"dhcp-leasefile={Path.Combine(Directory, "dnsmasq.leases")}",
        ]);
        var dnsmasq = new LabProcess(Router, "dnsmasq", "--keep-in-foreground", "--user=root", "--log-facility=-", "--conf-file=" + conf);
        running.Add(dnsmasq);
        await WaitForAsync(async () => (await Netns.ExecAsync(Router, "ss", "-lun")).Output.Contains(RouterIp + ":53"), "dnsmasq listening", () => dnsmasq.Error);
    }

    /// <summary>Unbound on the router (port 5300), configured as docs/forwarding.md says, DNSSEC validation on.</summary>
    public async Task StartUnboundAsync(string minilbAddress)
    {
        var conf = Path.Combine(Directory, "unbound.conf");
        await File.WriteAllTextAsync(conf, $"""
            server:
              interface: {RouterIp}@5300
              access-control: 192.0.2.0/24 allow
              do-daemonize: no
              username: ""
              chroot: ""
              directory: "{Directory}"
              pidfile: ""
              use-syslog: no
              module-config: "validator iterator"
              trust-anchor: ". DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
              domain-insecure: "minilb"
              private-domain: "minilb"
            forward-zone:
              name: "minilb"
              forward-addr: {minilbAddress}@53

            """);
        var unbound = new LabProcess(Router, "unbound", "-d", "-c", conf);
        running.Add(unbound);
        await WaitForAsync(async () => (await Netns.ExecAsync(Router, "ss", "-lun")).Output.Contains(RouterIp + ":5300"), "unbound listening", () => unbound.Error);
    }

    /// <summary>ISC dhclient in the client namespace; returns the client's routing table afterwards.</summary>
    public async Task<string> ClientDhcpAsync()
    {
        // `ip netns exec` binds /etc/netns/NS/resolv.conf over /etc/resolv.conf, so dhclient-script writes there, not the host's.
        var etc = $"/etc/netns/{Client}";
        System.IO.Directory.CreateDirectory(etc);
        await File.WriteAllTextAsync(Path.Combine(etc, "resolv.conf"), "");
        (await Netns.RunAsync("ip", ["netns", "exec", Client, "dhclient", "-1", "-4", "-sf", "/sbin/dhclient-script",
            "-lf", Path.Combine(Directory, "client.leases"), "-pf", Path.Combine(Directory, "dhclient.pid"), "lan0"], timeout: TimeSpan.FromSeconds(60)))
            .Check("dhclient");
        return (await Netns.RunAsync("ip", ["-n", Client, "-4", "route"])).Output;
    }

    /// <summary>
    /// A second, separate link: ISC dhcpd with <paramref name="configuration"/> (global statements) in one new
    /// namespace, ISC dhclient in another; returns the client's routing table after its lease.
    /// </summary>
    public async Task<string> IscDhcpdLeaseAsync(string configuration)
    {
        var (server, client) = ($"{Prefix}-ds", $"{Prefix}-dc");
        foreach (var ns in new[] { server, client })
        {
            await IpAsync("netns", "add", ns);
            namespaces.Add(ns);
        }
        await IpAsync("link", "add", $"{Prefix}d1", "type", "veth", "peer", "name", $"{Prefix}d2");
        await IpAsync("link", "set", $"{Prefix}d1", "netns", server);
        await IpAsync("link", "set", $"{Prefix}d2", "netns", client);
        await IpAsync("-n", server, "link", "set", $"{Prefix}d1", "name", "lan0");
        await IpAsync("-n", client, "link", "set", $"{Prefix}d2", "name", "lan0");
        await IpAsync("-n", server, "addr", "add", RouterIp + "/24", "dev", "lan0");
        await IpAsync("-n", server, "link", "set", "lan0", "up");
        await IpAsync("-n", client, "link", "set", "lan0", "up");

        var conf = Path.Combine(Directory, "dhcpd.conf");
        var leases = Path.Combine(Directory, "dhcpd.leases");
        await File.WriteAllTextAsync(leases, "");
        await File.WriteAllTextAsync(conf, $$"""
            authoritative;
            default-lease-time 600;
            max-lease-time 600;
            {{configuration}}
            subnet 192.0.2.0 netmask 255.255.255.0 {
              range 192.0.2.100 192.0.2.150;
              option routers {{RouterIp}};
            }

            """);
        var dhcpd = Start(server, "dhcpd", "-f", "-4", "-cf", conf, "-lf", leases, "-pf", Path.Combine(Directory, "dhcpd.pid"), "lan0");
        var etc = $"/etc/netns/{client}";
        System.IO.Directory.CreateDirectory(etc);
        await File.WriteAllTextAsync(Path.Combine(etc, "resolv.conf"), "");
        (await Netns.RunAsync("ip", ["netns", "exec", client, "dhclient", "-1", "-4", "-sf", "/sbin/dhclient-script",
            "-lf", Path.Combine(Directory, "dc.leases"), "-pf", Path.Combine(Directory, "dc.pid"), "lan0"], timeout: TimeSpan.FromSeconds(60)))
            .Check("dhclient against dhcpd: " + dhcpd.Error);
        return (await Netns.RunAsync("ip", ["-n", client, "-4", "route"])).Output;
    }

    /// <summary>Which way the client would send a packet to <paramref name="address"/> (`ip route get`).</summary>
    public async Task<string> ClientRouteToAsync(string address) =>
        (await Netns.RunAsync("ip", ["-n", Client, "route", "get", address])).Check("ip route get").Output.Trim();

    /// <summary>`lab/client.py` in the client namespace: COUNT requests, one every INTERVAL, each after a DNS question to the resolver.</summary>
    public LabProcess StartClient(string resolver, string name, string type, int count, TimeSpan interval, TimeSpan? httpTimeout = null)
    {
        static string Text(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var client = new LabProcess(Client, "python3", LabFile("client.py"), resolver, name, type,
            Text(count), Text(interval.TotalSeconds), Text((httpTimeout ?? TimeSpan.FromSeconds(2)).TotalSeconds));
        running.Add(client);
        return client;
    }

    /// <summary>A program in a namespace for as long as the lab runs (minilb on node 1, the API server's port forward).</summary>
    public LabProcess Start(string ns, string file, params string[] args)
    {
        var process = new LabProcess(ns, file, args);
        running.Add(process);
        return process;
    }

    public void Keep(IAsyncDisposable resource) => running.Add(resource);

    /// <summary>Takes node <paramref name="n"/>'s LAN link down (silent, as a node that lost power) or up again.</summary>
    public Task NodeLinkAsync(int n, bool up) => IpAsync("-n", Node(n), "link", "set", "lan0", up ? "up" : "down");

    public static async Task WaitForAsync(Func<Task<bool>> condition, string what, Func<string>? detail = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"lab: timed out waiting for {what}. {detail?.Invoke()}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = running.Count - 1; i >= 0; i--)
        {
            try
            {
                await running[i].DisposeAsync();
            }
            catch (Exception e)
            {
                log.WriteLine($"lab: stopping a process failed: {e.Message}");
            }
        }
        running.Clear();
        foreach (var ns in namespaces)
            await RemoveNamespaceAsync(ns);
        namespaces.Clear();
        foreach (var directory in new[] { $"/etc/netns/{Client}", $"/etc/netns/{Prefix}-dc", Directory })
        {
            if (System.IO.Directory.Exists(directory))
                System.IO.Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Ends what still runs in the namespace (dhclient daemonises), then deletes it.</summary>
    private static async Task RemoveNamespaceAsync(string ns)
    {
        var pids = (await Netns.RunAsync("ip", ["netns", "pids", ns])).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var pid in pids)
            await Netns.RunAsync("kill", ["-9", pid.Trim()]);
        await Netns.RunAsync("ip", ["netns", "del", ns]);
    }

    /// <summary>Namespaces of an earlier run whose process is gone (a lab interrupted before its clean-up).</summary>
    private static async Task RemoveLeftoversAsync(TextWriter log)
    {
        foreach (var line in (await Netns.RunAsync("ip", ["netns", "list"])).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (LabNamespace().Match(name) is not { Success: true } match || int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) == Environment.ProcessId % 100000)
                continue;
            if (File.Exists($"/proc/{match.Groups[1].Value}/status") && (await File.ReadAllTextAsync($"/proc/{match.Groups[1].Value}/status")).Contains("testhost", StringComparison.Ordinal))
                continue; // another lab that still runs
            log.WriteLine($"lab: removing {name}, left by an interrupted run");
            await RemoveNamespaceAsync(name);
            if (System.IO.Directory.Exists($"/etc/netns/{name}"))
                System.IO.Directory.Delete($"/etc/netns/{name}", recursive: true);
        }
    }

    [GeneratedRegex(@"^mlb(\d{1,5})-(rtr|cli|n\d|ds|dc)$")]
    private static partial Regex LabNamespace();
}
