using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Observability;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb serve --snapshot FILE`: authoritative DNS from a cluster snapshot file.</summary>
public static class ServeCommand
{

    public static Command Create()
    {
        var snapshot = SnapshotInput.CreateOption();
        var domain = new Option<string>("--domain") { Description = "The DNS zone minilb is authoritative for.", DefaultValueFactory = _ => ZoneSettings.DefaultDomain };
        var ttl = new Option<int>("--ttl") { Description = "TTL of answers in seconds (also the negative-cache TTL).", DefaultValueFactory = _ => ZoneSettings.DefaultTtl };
        var listen = new Option<string>("--listen") { Description = "host:port, [IPv6]:port, or :port for all addresses of both families.", DefaultValueFactory = _ => "127.0.0.1:5353" };
        var loadBalancerClass = new Option<string>("--load-balancer-class") { Description = "spec.loadBalancerClass of the Services to serve.", DefaultValueFactory = _ => ZoneSettings.DefaultLoadBalancerClass };

        var udpLoops = new Option<int>("--udp-receive-loops") { Description = "UDP receive loops (threads) per listen address.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var reusePort = new Option<bool>("--udp-reuseport") { Description = "One SO_REUSEPORT socket per UDP receive loop instead of one shared socket.", DefaultValueFactory = _ => false };
        var rateLimit = new Option<int>("--rate-limit") { Description = "Answers per second over UDP to one client /24 (IPv4) or /56 (IPv6); 0 for no limit (the default).", DefaultValueFactory = _ => 0 };
        var slip = new Option<int>("--rate-limit-slip") { Description = "Over the rate limit, every Nth query gets an empty truncated reply (TC=1) so real clients retry over TCP; 0 for never.", DefaultValueFactory = _ => 2 };
        var (upstream, forwardAllow, forwardTimeout) = ForwardingOptions();
        var healthListen = MonitoringOptions.HealthListen();
        var logFormat = MonitoringOptions.LogFormat();
        var logLevel = MonitoringOptions.LogLevel(LogLevel.Warning);
        var lameDuck = LameDuck.CreateOption();
        var transferAllowFrom = new Option<string[]>("--transfer-allow-from") { Description = "CIDR allowed to transfer the zone (AXFR/IXFR over TCP); repeat for more. None: transfers are refused." };
        var notify = new Option<string[]>("--notify") { Description = "Secondary (ip:port) sent a DNS NOTIFY when serving starts; repeat for more." };

        var command = new Command("serve", "Serve DNS from a cluster snapshot file (no cluster needed).")
        {
            snapshot, domain, ttl, listen, loadBalancerClass, udpLoops, reusePort, rateLimit, slip, upstream, forwardAllow, forwardTimeout,
            healthListen, logFormat, logLevel, lameDuck, transferAllowFrom, notify,
        };
        command.SetAction((parse, ct) => ServeAsync(
            parse.GetValue(snapshot), parse.GetValue(domain)!, parse.GetValue(ttl), parse.GetValue(listen)!, parse.GetValue(loadBalancerClass)!,
            new DnsHostOptions { UdpReceiveLoops = parse.GetValue(udpLoops), UdpReusePort = parse.GetValue(reusePort) },
            (parse.GetValue(rateLimit), parse.GetValue(slip)),
            (parse.GetValue(upstream) ?? [], parse.GetValue(forwardAllow) ?? [], parse.GetValue(forwardTimeout)),
            RunCommand.Monitoring(parse, healthListen, logFormat, logLevel), TimeSpan.FromSeconds(parse.GetValue(lameDuck)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct,
            new TransferSpec { AllowFrom = [.. parse.GetValue(transferAllowFrom) ?? []], Notify = [.. parse.GetValue(notify) ?? []] }));
        return command;
    }

    private static async Task<int> ServeAsync(FileInfo? snapshot, string domain, int ttl, string listen, string loadBalancerClass,
        DnsHostOptions dnsOptions, (int Qps, int Slip) rateLimit, (string[] Upstreams, string[] AllowFrom, int TimeoutMs) forwardingFlags,
        RunCommand.MonitoringSettings monitoringSettings,
        TimeSpan lameDuck, TextWriter output, TextWriter error, CancellationToken ct, TransferSpec transfer)
    {
        if (!TransferSettings.TryRead(transfer, "--", out var transferSettings, out var transferProblem))
        {
            await error.WriteLineAsync($"minilb serve: {transferProblem}");
            return CommandLine.BadInput;
        }
        var rateLimitProblem = rateLimit.Qps < 0 ? $"--rate-limit {rateLimit.Qps}: must be 0 (no limit) or a positive number of answers per second"
            : rateLimit.Slip < 0 ? $"--rate-limit-slip {rateLimit.Slip}: must be 0 (never) or a positive number"
            : null;
        if (rateLimitProblem is not null)
        {
            await error.WriteLineAsync($"minilb serve: {rateLimitProblem}");
            return CommandLine.BadInput;
        }
        var limit = rateLimit.Qps == 0 ? null : new RateLimit(rateLimit.Qps, rateLimit.Slip);
        if (ReadForwarding(forwardingFlags.Upstreams, forwardingFlags.AllowFrom, forwardingFlags.TimeoutMs, out var forwarding) is { } forwardingProblem)
        {
            await error.WriteLineAsync($"minilb serve: {forwardingProblem}");
            return CommandLine.BadInput;
        }
        if (!ListenAddress.TryParse(listen, out var address, out var listenProblem))
        {
            await error.WriteLineAsync($"minilb serve: --listen: {listenProblem}");
            return CommandLine.BadInput;
        }
        var settings = new ZoneSettings
        {
            Domain = domain.Trim().TrimEnd('.').ToLowerInvariant(),
            Ttl = ttl,
            LoadBalancerClass = loadBalancerClass,
            // A specific listen address is where ns1.<domain> answers, so it is the NS glue.
            NameServerAddresses = address.EndPoints.Select(e => e.Address).Where(a => !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any)).ToArray(),
        };
        if (dnsOptions.UdpReceiveLoops is < 1 or > 64)
        {
            await error.WriteLineAsync($"minilb serve: --udp-receive-loops {dnsOptions.UdpReceiveLoops} must be between 1 and 64");
            return CommandLine.BadInput;
        }
        if (settings.Problem() is { } settingsProblem)
        {
            await error.WriteLineAsync($"minilb serve: {settingsProblem}");
            return CommandLine.BadInput;
        }
        var served = Read(snapshot, settings, error);
        if (served is null)
            return CommandLine.BadInput;

        // Reading the snapshot left its garbage (YAML tree, JSON text, Kubernetes objects, the model) in a heap the
        // GC keeps for later; serving allocates almost nothing, so give it back now: the resident size is then what
        // the zone needs (issue 6: at most 25 MiB with 1,000 Services).
        StartupMemory.Release(); // and the binary's start-only pages

        // Serve has no built-in health address: what is given must bind.
        await using var monitoring = await Monitoring.StartAsync("serve", monitoringSettings.Listen, listenIsDefault: false,
            monitoringSettings.Format, monitoringSettings.Level, error);
        if (monitoring is null)
            return CommandLine.BadInput;
        var zones = new ZoneHolder(served.Zone);
        var (servedServices, servedEndpoints, aliases) = (served.Services, served.Endpoints, served.Zone.Aliases.Count);
        monitoring.Telemetry.ObserveServed(() => (servedServices, servedEndpoints, aliases));
        var dnsBound = monitoring.Checks.AddSignal("dns-bound", Probe.Readiness, "DNS is not listening yet");
        var stopping = LameDuck.Register(monitoring.Checks);
        DnsHost host;
        try
        {
            host = DnsHost.Start(address, zones, options: dnsOptions with
            {
                RateLimit = limit, Answered = monitoring.Telemetry.DnsQueryAnswered,
                Forwarding = forwarding, Forwarded = monitoring.Telemetry.DnsForwarded, Transfer = transferSettings,
            },
                logger: monitoring.Loggers.CreateLogger<DnsHost>());
            dnsBound.Set();
        }
        catch (ListenException e)
        {
            await error.WriteLineAsync($"minilb serve: {e.Message}");
            return CommandLine.BadInput;
        }

        // Bound first: when the address is unusable, only the error is printed.
        await using (host)
        {
            var plan = served.Routes;
            await output.WriteLineAsync(RouteFormats.RouterHeading);
            await output.WriteAsync(RouteFormats.Render(plan, "ip"));
            foreach (var problem in plan.Problems)
                await output.WriteLineAsync($"  not routed: node {problem.Node}: {problem.Reason}");
            await output.WriteLineAsync();
            await output.WriteLineAsync($"DNS for zone '{settings.Domain}' listening on {Describe(host)} (UDP and TCP). Names served:");
            foreach (var name in served.Names)
                await output.WriteLineAsync($"  {name}");
            if (served.Names.Length == 0)
                await output.WriteLineAsync($"  (none: the snapshot has no Service of type LoadBalancer with loadBalancerClass '{settings.LoadBalancerClass}')");
            if (served.Zone.Reverse.Apexes.Count > 0)
                await output.WriteLineAsync("Reverse zones (PTR for the addresses above): " + string.Join(", ", served.Zone.Reverse.Apexes.Keys.Select(a => a.ToString(false)).Order(StringComparer.Ordinal)));
            if (limit is not null)
                await output.WriteLineAsync($"UDP answers are limited to {limit.QueriesPerSecond}/s per client /24 or /56; over it "
                    + (limit.Slip == 0 ? "queries get no reply." : $"1 query in {limit.Slip} gets an empty TC=1 reply (retry over TCP), the rest no reply."));
            await output.WriteLineAsync(forwarding is null ? "Names outside the zone are refused (no --upstream)."
                : $"Forwarding: {forwarding.Describe()}; others are refused.");
            if (transferSettings.Enabled)
                await output.WriteLineAsync($"Zone transfer: {transferSettings.Describe()}.");
            await output.WriteLineAsync("Press Ctrl-C to stop.");
            await output.FlushAsync(ct);
            await stopping.WaitForStopAsync(lameDuck, () => Task.CompletedTask, output, ct);
            await output.WriteLineAsync("Stopping.");
        }
        return 0;
    }

    /// <summary>
    /// What serving needs of the snapshot: the zone, the routes and the names to print. The model itself (every
    /// object of the snapshot) is garbage once this returns, so the collection after it gives its memory back.
    /// </summary>
    private static Served? Read(FileInfo? snapshot, ZoneSettings settings, TextWriter error)
    {
        var model = SnapshotInput.Load("serve", snapshot, settings, error);
        if (model is null)
            return null;
        var zone = model.Current;
        var services = model.Services.Where(s => ServedService.IsServed(s, settings)).ToList();
        var endpoints = services.Sum(s => zone.Names.TryGetValue(Hostnames.ToName(ServedService.HostnameOf(s, settings)), out var node)
            ? node.V4.Length + node.V6.Length
            : 0);
        var names = services.Select(s => ServedService.HostnameOf(s, settings)).Order(StringComparer.Ordinal)
            .Concat(zone.Aliases.Keys.Select(k => k.ToString(false)).Order(StringComparer.Ordinal))
            .ToArray();
        return new Served(zone, RoutePlan.FromNodes(model.Nodes), names, services.Count, endpoints);
    }

    /// <summary><c>--upstream</c> (repeatable, or a comma list), <c>--forward-allow</c> and <c>--forward-timeout</c>; <c>run</c> takes <c>--upstream</c> too.</summary>
    internal static (Option<string[]> Upstream, Option<string[]> Allow, Option<int> Timeout) ForwardingOptions() => (
        UpstreamOption(),
        new Option<string[]>("--forward-allow")
        {
            Description = "Clients (CIDR or address; repeatable, or a comma list) whose queries --upstream forwards. Default: loopback, RFC 1918, RFC 4193 and link-local.",
            HelpName = "CIDR",
        },
        new Option<int>("--forward-timeout")
        {
            Description = "Milliseconds to wait for one upstream before the next (100-30000); SERVFAIL when all fail.",
            DefaultValueFactory = _ => ForwardingSpec.DefaultTimeoutMilliseconds,
        });

    internal static Option<string[]> UpstreamOption() => new("--upstream")
    {
        Description = "Resolver (ip, ip:port or [ipv6]:port; repeatable, or a comma list, tried in order) that answers names outside the zone for allowed clients. Default: none, such names are refused.",
        HelpName = "IP[:PORT]",
    };

    /// <summary>Each flag value split at commas, blanks dropped.</summary>
    internal static string[] Items(IEnumerable<string> values) =>
        [.. values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];

    /// <summary>The forwarding flags as settings (null: no --upstream), or what is wrong with them, naming the flag.</summary>
    internal static string? ReadForwarding(string[] upstreams, string[] allowFrom, int timeoutMs, out ForwardingSettings? settings)
    {
        settings = null;
        var (hosts, networks) = (Items(upstreams), Items(allowFrom));
        if (!ForwardingSettings.TryParse(hosts, networks, _ => "--upstream", _ => "--forward-allow", out var parsed, out var problem))
            return problem;
        if (timeoutMs is < 100 or > 30000)
            return $"--forward-timeout {timeoutMs}: must be between 100 and 30000 milliseconds";
        if (parsed is null && networks.Length > 0)
            return "--forward-allow: needs --upstream (there is nothing to forward to)";
        settings = parsed is null ? null : parsed with { Timeout = TimeSpan.FromMilliseconds(timeoutMs) };
        return null;
    }

    private sealed record Served(Zone Zone, RoutePlan Routes, string[] Names, int Services, int Endpoints);

    private static string Describe(DnsHost host) => string.Join(", ", host.EndPoints);

    /// <summary>Until Ctrl-C (SIGINT), SIGTERM (as Kubernetes and systemd stop processes) or <paramref name="ct"/>.</summary>
    internal static async Task WaitForStopAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
