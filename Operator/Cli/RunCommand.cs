using System.CommandLine;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Observability;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb run`: the operator — DNS from the cluster's watch caches, Service and MiniLbConfig status, HA by leader election.</summary>
public static class RunCommand
{
    /// <summary>How long the start waits for the API server before giving up with exit code 2.</summary>
    private static readonly TimeSpan ReachTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Where /healthz, /readyz and /metrics are served unless --health-listen says otherwise (the chart's probes use it).</summary>
    public const string DefaultHealthListen = ":8080";

    /// <summary>The settings of the operational surface, as parsed.</summary>
    internal sealed record MonitoringSettings(string? Listen, bool ListenIsDefault, LogFormat Format, LogLevel Level);

    public static Option<string> KubeconfigOption() => new("--kubeconfig")
    {
        Description = "kubeconfig file. Default: in-cluster inside a pod, else KUBECONFIG, else ~/.kube/config.",
        HelpName = "PATH",
    };

    public static Command Create()
    {
        var kubeconfig = KubeconfigOption();
        var config = new Option<string>("--config")
        {
            Description = "Name of the MiniLbConfig to use; others get a condition saying they are not in use.",
            DefaultValueFactory = _ => MiniLbConfig.DefaultName,
        };
        var @namespace = new Option<string?>("--namespace", "-n")
        {
            Description = "Namespace of the leader-election Lease. Default: POD_NAMESPACE, the service account's namespace, or 'default'.",
        };
        var leaderElection = new Option<bool>("--leader-election")
        {
            Description = "Elect a leader among replicas (only it writes status and events); every replica serves DNS.",
            DefaultValueFactory = _ => true,
            Arity = ArgumentArity.ExactlyOne,
        };
        var lease = new LeaseFlags();
        var healthListen = MonitoringOptions.HealthListen(DefaultHealthListen);
        var logFormat = MonitoringOptions.LogFormat();
        var logLevel = MonitoringOptions.LogLevel();
        var lameDuck = LameDuck.CreateOption();
        var specFlags = SpecFlags.Create();
        var command = new Command("run", "Run the operator against a cluster: serve DNS from its watch caches and publish hostnames and routes. "
            + "The zone flags configure it while no MiniLbConfig exists (no CRD is needed); a MiniLbConfig, once there, wins over them.")
        {
            kubeconfig,
            config,
            @namespace,
            leaderElection,
            healthListen,
            logFormat,
            logLevel,
            lameDuck,
        };
        foreach (var option in lease.All)
            command.Options.Add(option);
        foreach (var row in specFlags)
            command.Options.Add(row.Option);
        command.SetAction(async (parse, ct) =>
        {
            if (!SpecFlags.TryRead(specFlags, parse, out var spec, out _, out var given, out var problem))
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"minilb run: {problem}");
                return CommandLine.BadInput;
            }
            LeaseLeadershipOptions? leaseOptions = null;
            if (parse.GetValue(leaderElection)
                && (leaseOptions = lease.Apply(parse, LeaseLeadershipOptions.FromEnvironment(parse.GetValue(@namespace)), out var leaseProblem)) is null)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"minilb run: {leaseProblem}");
                return CommandLine.BadInput;
            }
            return await RunAsync(parse.GetValue(kubeconfig), parse.GetValue(config)!, parse.GetValue(@namespace),
                leaseOptions, TimeSpan.FromSeconds(parse.GetValue(lameDuck)), Monitoring(parse, healthListen, logFormat, logLevel),
                (spec, given), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct);
        });
        return command;
    }

    /// <summary>A client for the cluster after one successful call, or null after writing why to <paramref name="error"/>.</summary>
    internal static async Task<IKubernetes?> ConnectAsync(string command, string? kubeconfig, TextWriter error, CancellationToken ct)
    {
        KubernetesClientConfiguration configuration;
        try
        {
            configuration = ClusterConnection.Configuration(kubeconfig);
        }
        catch (ClusterConnectionException e)
        {
            await error.WriteLineAsync($"minilb {command}: {e.Message}");
            return null;
        }
        var client = ClusterConnection.Client(configuration);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ReachTimeout);
        try
        {
            await client.Version.GetCodeAsync(timeout.Token);
            return client;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            var why = e is OperationCanceledException ? $"no answer within {ReachTimeout.TotalSeconds:0} s" : e.Message;
            await error.WriteLineAsync($"minilb {command}: cannot reach the API server at {configuration.Host}: {why}");
            client.Dispose();
            return null;
        }
    }

    internal static MonitoringSettings Monitoring(ParseResult parse, Option<string?> listen, Option<LogFormat> format, Option<LogLevel> level) =>
        new(parse.GetValue(listen), parse.GetResult(listen) is null or { Implicit: true }, parse.GetValue(format), parse.GetValue(level));

    private static async Task<int> RunAsync(string? kubeconfig, string configName, string? @namespace, LeaseLeadershipOptions? lease, TimeSpan lameDuck,
        MonitoringSettings monitoringSettings, (MiniLbConfigSpec Spec, IReadOnlyList<GivenFlag> Given) flags, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (@namespace is not null && !ManifestsCommand.IsDnsLabel(@namespace))
        {
            await error.WriteLineAsync($"minilb run: --namespace '{@namespace}' is not a valid namespace name (lowercase letters, digits and '-', at most 63)");
            return CommandLine.BadInput;
        }
        if (configName.Length == 0)
        {
            await error.WriteLineAsync("minilb run: --config must name a MiniLbConfig");
            return CommandLine.BadInput;
        }
        using var client = await ConnectAsync("run", kubeconfig, error, ct);
        if (client is null)
            return CommandLine.BadInput;

        await using var monitoring = await Observability.Monitoring.StartAsync("run", monitoringSettings.Listen, monitoringSettings.ListenIsDefault,
            monitoringSettings.Format, monitoringSettings.Level, error);
        if (monitoring is null)
            return CommandLine.BadInput;
        var telemetry = monitoring.Telemetry;
        var options = new OperatorOptions
        {
            ConfigName = configName,
            Lease = lease,
            Defaults = flags.Spec,
            Flags = flags.Given,
            Informers = new InformerOptions { Metrics = telemetry },
            Dns = new DnsHostOptions { Answered = telemetry.DnsQueryAnswered, Forwarded = telemetry.DnsForwarded },
        };
        await using var minilb = new LoadBalancerOperator(client, options, monitoring.Loggers);
        telemetry.ObserveServed(() =>
        {
            var served = minilb.Feed.Counts();
            return (served.Services, served.Endpoints, minilb.Zones.Current.Aliases.Count);
        });
        telemetry.LeaderChanged(minilb.Leadership.IsLeader);
        minilb.Leadership.Changed += telemetry.LeaderChanged;
        minilb.Liveness.Changed += changes =>
        {
            foreach (var change in changes)
                telemetry.NodeReachabilityChanged(change.Reachable);
        };
        minilb.Liveness.UnreachableChanged += nodes => telemetry.UnreachableNodes(nodes.Count);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        StartupMemory.ReleasePagesSoFar(); // the command line, kubeconfig and hosting, before the first LISTs
        var running = minilb.RunAsync(stop.Token);
        OperatorHealth.Register(monitoring.Checks, minilb, running);
        var stopping = LameDuck.Register(monitoring.Checks);
        try
        {
            await minilb.Nodes.WaitForSyncAsync(stop.Token);
            await output.WriteAsync(RouteFormats.Banner(RoutePlan.FromNodes(minilb.Nodes.Items)));
            // The first LISTs leave their garbage (JSON text, pages, replaced objects) in a heap the GC keeps for later;
            // the steady state needs the caches only, so give the rest back once (docs/benchmarks.md, run mode).
            await minilb.Host.WaitForSyncAsync(stop.Token);
            StartupMemory.Release(); // and the binary's start-only pages
            await minilb.Config.FirstApplied.WaitAsync(stop.Token);
            _ = GiveBackMemoryAsync(minilb, stop.Token);
            await output.WriteLineAsync($"minilb running ({minilb.Config.DescribeSource()}; leader election {(lease is null ? "off" : $"on, Lease {lease.Namespace}/{lease.LeaseName} of {lease.LeaseDuration.TotalSeconds:0} s renewed every {lease.RetryPeriod.TotalSeconds:0} s")}). Press Ctrl-C to stop.");
            await output.FlushAsync(ct);
            // On SIGTERM the lease is given up at once, so another replica writes statuses while this one still answers DNS.
            await stopping.WaitForStopAsync(lameDuck, minilb.Leadership is LeaseLeadership leadership ? leadership.ResignAsync : () => Task.CompletedTask,
                output, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        await stop.CancelAsync();
        await running;
        await output.WriteLineAsync("Stopped.");
        return 0;
    }

    /// <summary>
    /// Start-up's second half — the leader's first status writes and events, their watch events, the zones they
    /// publish — leaves garbage of its own after the caches are filled. Once it is over (<see cref="StartupSettle"/>)
    /// it is given back too, with the shared libraries' pages; the binary's code it ran stays, since serving runs the
    /// same (<see cref="StartupMemory.ReleaseSettled"/>). Then <see cref="IdleTrim"/> gives back what every later burst grows.
    /// </summary>
    private static async Task GiveBackMemoryAsync(LoadBalancerOperator minilb, CancellationToken ct)
    {
        var settle = new StartupSettle(() => minilb.Host.ControllersBusy);
        void Published(Resolution.Zone _) => settle.Published();
        minilb.Feed.Published += Published;
        try
        {
            await settle.WaitAsync(ct);
            StartupMemory.ReleaseSettled();
        }
        catch (OperationCanceledException)
        {
            return;
        }
        finally
        {
            minilb.Feed.Published -= Published;
        }
        // From here on, what each burst (queries, churn, a relist) grows is handed back once it is over.
        await new IdleTrim().RunAsync(ct);
    }
}
