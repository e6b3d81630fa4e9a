using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Observability;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb serve --snapshot FILE`: authoritative DNS from a cluster snapshot file.</summary>
public static class ServeCommand
{

    public static Command Create()
    {
        var snapshot = SnapshotInput.CreateOption();
        var specFlags = SpecFlags.ForServe();
        var udpLoops = new Option<int>("--udp-receive-loops") { Description = "UDP receive loops (threads) per listen address.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var reusePort = new Option<bool>("--udp-reuseport") { Description = "One SO_REUSEPORT socket per UDP receive loop instead of one shared socket.", DefaultValueFactory = _ => false };
        var rateLimit = new Option<int>("--rate-limit") { Description = "Answers per second over UDP to one client /24 (IPv4) or /56 (IPv6); 0 for no limit (the default).", DefaultValueFactory = _ => 0 };
        var slip = new Option<int>("--rate-limit-slip") { Description = "Over the rate limit, every Nth query gets an empty truncated reply (TC=1) so real clients retry over TCP; 0 for never.", DefaultValueFactory = _ => 2 };
        var healthListen = MonitoringOptions.HealthListen();
        var logFormat = MonitoringOptions.LogFormat();
        var logLevel = MonitoringOptions.LogLevel(LogLevel.Warning);
        var lameDuck = LameDuck.CreateOption();

        var command = new Command("serve", "Serve DNS from a cluster snapshot file (no cluster needed).") { snapshot };
        foreach (var row in specFlags)
            command.Options.Add(row.Option);
        foreach (var option in new Option[] { udpLoops, reusePort, rateLimit, slip, healthListen, logFormat, logLevel, lameDuck })
            command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            // The flags are read by the rules of a MiniLbConfig spec, as `run`'s are: one set of rules, the flag named.
            if (!SpecFlags.TryRead(specFlags, parse, out var spec, out var settings, out _, out var problem))
            {
                await error.WriteLineAsync($"minilb serve: {problem}");
                return CommandLine.BadInput;
            }
            // A flag with no effect is a mistake on the command line; in a spec, allowFrom without upstreams is just forwarding off.
            if (spec.Forwarding is { Upstreams.Count: 0, AllowFrom.Count: > 0 })
            {
                await error.WriteLineAsync("minilb serve: --forward-allow: needs --upstream (there is nothing to forward to)");
                return CommandLine.BadInput;
            }
            return await ServeAsync(parse.GetValue(snapshot), settings,
                new DnsHostOptions { UdpReceiveLoops = parse.GetValue(udpLoops), UdpReusePort = parse.GetValue(reusePort) },
                (parse.GetValue(rateLimit), parse.GetValue(slip)),
                RunCommand.Monitoring(parse, healthListen, logFormat, logLevel), TimeSpan.FromSeconds(parse.GetValue(lameDuck)),
                parse.InvocationConfiguration.Output, error, ct);
        });
        return command;
    }

    private static async Task<int> ServeAsync(FileInfo? snapshot, SpecSettings spec, DnsHostOptions dnsOptions, (int Qps, int Slip) rateLimit,
        RunCommand.MonitoringSettings monitoringSettings, TimeSpan lameDuck, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var rateLimitProblem = rateLimit.Qps < 0 ? $"--rate-limit {rateLimit.Qps}: must be 0 (no limit) or a positive number of answers per second"
            : rateLimit.Slip < 0 ? $"--rate-limit-slip {rateLimit.Slip}: must be 0 (never) or a positive number"
            : null;
        if (rateLimitProblem is not null)
        {
            await error.WriteLineAsync($"minilb serve: {rateLimitProblem}");
            return CommandLine.BadInput;
        }
        var limit = rateLimit.Qps == 0 ? null : new RateLimit(rateLimit.Qps, rateLimit.Slip);
        if (dnsOptions.UdpReceiveLoops is < 1 or > 64)
        {
            await error.WriteLineAsync($"minilb serve: --udp-receive-loops {dnsOptions.UdpReceiveLoops} must be between 1 and 64");
            return CommandLine.BadInput;
        }
        var (settings, address, forwarding, transferSettings) = (spec.Zone, spec.Listen, spec.Forwarding, spec.Transfer);
        var served = Read(snapshot, settings, error);
        if (served is null)
            return CommandLine.BadInput;

        // Reading the snapshot left its garbage (YAML tree, JSON text, Kubernetes objects, the model) in a heap the
        // GC keeps for later; serving allocates almost nothing, so give it back now: the resident size is then what
        // the zone needs (issue 6: at most 25 MiB with 1,000 Services).
        StartupMemory.Release(); // and the binary's start-only pages
        _ = new IdleTrim().RunAsync(ct); // and later, what each burst of queries grew

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
            await output.WriteAsync(RouteFormats.Banner(served.Routes));
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
        var names = model.Services.Where(s => ServedService.IsServed(s, settings)).Select(s => ServedService.HostnameOf(s, settings)).Order(StringComparer.Ordinal)
            .Concat(zone.Aliases.Keys.Select(k => k.ToString(false)).Order(StringComparer.Ordinal))
            .ToArray();
        // The counts the model keeps as it publishes, as `run`'s ZoneFeed reports them: one definition of "served".
        return new Served(zone, RoutePlan.FromNodes(model.Nodes), names, model.ServedCount, model.ServedEndpoints);
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
