using System.CommandLine;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Observability;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb run`: the operator — DNS from the cluster's watch caches, Service and MiniLbConfig status, HA by leader election.</summary>
public static class RunCommand
{
    /// <summary>How long the start waits for the API server before giving up with exit code 2.</summary>
    private static readonly TimeSpan ReachTimeout = TimeSpan.FromSeconds(15);

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
        var healthListen = MonitoringOptions.HealthListen();
        var logFormat = MonitoringOptions.LogFormat();
        var logLevel = MonitoringOptions.LogLevel();
        var command = new Command("run", "Run the operator against a cluster: serve DNS from its watch caches and publish hostnames and routes.")
        {
            kubeconfig,
            config,
            @namespace,
            leaderElection,
            healthListen,
            logFormat,
            logLevel,
        };
        command.SetAction((parse, ct) => RunAsync(new RunSettings(parse.GetValue(kubeconfig), parse.GetValue(config)!, parse.GetValue(@namespace),
            parse.GetValue(leaderElection), parse.GetValue(healthListen), parse.GetValue(logFormat), parse.GetValue(logLevel)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
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
        var client = new Kubernetes(configuration);
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

    private sealed record RunSettings(string? Kubeconfig, string ConfigName, string? Namespace, bool LeaderElection,
        string? HealthListen, LogFormat LogFormat, LogLevel LogLevel);

    private static async Task<int> RunAsync(RunSettings settings, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var (configName, leaderElection) = (settings.ConfigName, settings.LeaderElection);
        if (settings.Namespace is { } ns && !ManifestsCommand.IsDnsLabel(ns))
        {
            await error.WriteLineAsync($"minilb run: --namespace '{ns}' is not a valid namespace name (lowercase letters, digits and '-', at most 63)");
            return CommandLine.BadInput;
        }
        if (configName.Length == 0)
        {
            await error.WriteLineAsync("minilb run: --config must name a MiniLbConfig");
            return CommandLine.BadInput;
        }
        using var client = await ConnectAsync("run", settings.Kubeconfig, error, ct);
        if (client is null)
            return CommandLine.BadInput;

        using var loggers = Logging.CreateFactory(settings.LogFormat, settings.LogLevel);
        var options = new OperatorOptions
        {
            ConfigName = configName,
            Lease = leaderElection ? LeaseLeadershipOptions.FromEnvironment(settings.Namespace) : null,
        };
        await using var minilb = new LoadBalancerOperator(client, options, loggers);
        MonitoringEndpoint? monitoring = null;
        if (settings.HealthListen is { } healthListen)
        {
            try
            {
                monitoring = MonitoringEndpoint.Start(healthListen, Observe(minilb), Checks(minilb), loggers.CreateLogger<MonitoringEndpoint>());
            }
            catch (System.Net.HttpListenerException e)
            {
                await error.WriteLineAsync($"minilb run: --health-listen {healthListen}: {e.Message}");
                return CommandLine.BadInput;
            }
        }
        await using var _ = monitoring;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var running = minilb.RunAsync(stop.Token);
        try
        {
            await minilb.Nodes.WaitForSyncAsync(stop.Token);
            await output.WriteAsync(LoadBalancerOperator.DescribeRoutes(RoutePlan.FromNodes(minilb.Nodes.Items)));
            await output.WriteLineAsync($"minilb running (MiniLbConfig '{configName}', leader election {(leaderElection ? "on" : "off")}). Press Ctrl-C to stop.");
            await output.FlushAsync(ct);
            await ServeCommand.WaitForStopAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        await stop.CancelAsync();
        await running;
        await output.WriteLineAsync("Stopped.");
        return 0;
    }

    /// <summary>Metrics fed from the operator: leadership and what the zone serves.</summary>
    private static Telemetry Observe(LoadBalancerOperator minilb)
    {
        var telemetry = new Telemetry(typeof(RunCommand).Assembly.GetName().Version?.ToString() ?? "unknown");
        telemetry.LeaderChanged(minilb.Leadership.IsLeader);
        minilb.Leadership.Changed += telemetry.LeaderChanged;
        minilb.Feed.Published += zone =>
        {
            var counts = minilb.Feed.Counts();
            telemetry.ZonePublished(counts.Services, counts.Endpoints, zone.Aliases.Count);
        };
        return telemetry;
    }

    /// <summary>The checks docs/metrics.md names: process (liveness), caches-synced and dns-bound (readiness).</summary>
    private static HealthChecks Checks(LoadBalancerOperator minilb)
    {
        var checks = new HealthChecks();
        checks.Add("process", Probe.Liveness, () => CheckResult.Ok);
        checks.Add("caches-synced", Probe.Readiness, () => minilb.Host.HasSynced
            ? CheckResult.Ok
            : CheckResult.Failed("waiting for the first LIST of: " + string.Join(", ", minilb.Host.Informers.Where(i => !i.HasSynced).Select(i => i.Kind))));
        checks.Add("dns-bound", Probe.Readiness, () => minilb.Config.Host is not null
            ? CheckResult.Ok
            : CheckResult.Failed(minilb.Config.Problem?.Message ?? "the DNS server has not started"));
        return checks;
    }
}
