using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Forwarding;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Controllers;

/// <summary>The configuration in effect: where it came from (null: the flags or defaults), the zone settings and the DNS listen address.</summary>
public sealed record AppliedConfig(string? Source, long? Generation, ZoneSettings Zone, ListenAddress Listen)
{
    /// <summary>The spec these settings were read from (the MiniLbConfig's, or the one the flags describe).</summary>
    public MiniLbConfigSpec? Spec { get; init; }

    /// <summary>Node liveness as that spec sets it: applied with the rest, or, when the spec is refused, not at all.</summary>
    public LivenessSettings Liveness { get; init; } = LivenessSettings.Default;
}

/// <summary>A MiniLbConfig spec read and checked once: what `run` applies (<see cref="LiveConfig"/>) and `serve` serves.</summary>
/// <param name="Forwarding">Null: names outside the zone are refused.</param>
public sealed record SpecSettings(ZoneSettings Zone, ListenAddress Listen, ForwardingSettings? Forwarding, TransferSettings Transfer, LivenessSettings Liveness);

/// <summary>Why the newest MiniLbConfig spec is not in effect; the last good configuration keeps running.</summary>
public sealed record ConfigProblem(string Reason, string Message, long? Generation);

/// <summary>
/// Applies the selected MiniLbConfig on every replica, without a restart: a new listen address is bound before the
/// old one closes; new zone settings are handed on (<see cref="Changed"/>). A spec that cannot work (a port in use)
/// changes nothing: the last good configuration keeps running and <see cref="Problem"/> says why.
/// </summary>
/// <param name="defaults">The spec used while no MiniLbConfig exists: the flags of `minilb run` over the CRD's defaults.</param>
/// <param name="flags">The flags given, which a MiniLbConfig overrides; none when empty.</param>
public sealed class LiveConfig(string configName, ZoneHolder zones, ILoggerFactory loggers, MiniLbConfigSpec? defaults = null, DnsHostOptions? dnsOptions = null,
    IReadOnlyList<GivenFlag>? flags = null) : IAsyncDisposable
{
    private readonly TaskCompletionSource firstApplied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger log = loggers.CreateLogger<LiveConfig>();
    private readonly Lock applying = new();
    private DnsHost? host;
    private volatile bool configExists;

    // The stop of the server last replaced. Stopping drains its loops (tens of milliseconds); that wait happens outside
    // the lock, and the next Apply starts only once it is over, so a spec going back to the old address can bind it.
    private Task replacedStopping = Task.CompletedTask;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> domains = new(StringComparer.Ordinal);

    public string ConfigName => configName;

    /// <summary>The flags given on the command line that set MiniLbConfig fields.</summary>
    public IReadOnlyList<GivenFlag> Flags { get; } = flags ?? [];

    /// <summary>Completes after the first <see cref="Apply"/>, whatever its outcome.</summary>
    public Task FirstApplied => firstApplied.Task;

    /// <summary>
    /// Every domain this replica has applied, leader or not: whichever replica leads next recognises the hostnames
    /// an earlier leader wrote under them as minilb's (and can remove them), even if it never wrote one itself.
    /// </summary>
    public ICollection<string> Domains => domains.Keys;

    /// <summary>The configuration in effect; null until the first <see cref="Apply"/>.</summary>
    public AppliedConfig? Current { get; private set; }

    public ConfigProblem? Problem { get; private set; }

    /// <summary>The DNS server, or null when no address could be bound yet.</summary>
    public DnsHost? Host => host;

    /// <summary>Raised after anything here changed: settings, listen address or problem.</summary>
    public event Action? Changed;

    /// <summary>Makes <paramref name="config"/> (null: none exists, so the defaults) the configuration in effect, if it can work.</summary>
    public void Apply(MiniLbConfig? config)
    {
        bool changed;
        Task stopping;
        while (true)
        {
            Task pending;
            lock (applying)
            {
                pending = replacedStopping;
                if (pending.IsCompleted)
                {
                    changed = ApplyLocked(config);
                    stopping = replacedStopping;
                    break;
                }
            }
            pending.GetAwaiter().GetResult();
        }
        // Apply returns once the replaced server is closed, as callers (and the ordering above) expect.
        stopping.GetAwaiter().GetResult();
        firstApplied.TrySetResult();
        if (changed)
            Changed?.Invoke();
    }

    private bool ApplyLocked(MiniLbConfig? config)
    {
        var generation = config?.Metadata.Generation;
        configExists = config is not null;
        if (config is not null && Current is { Source: not null } running && running.Generation == generation && Problem is null)
            return false;
        var spec = config?.Spec ?? defaults ?? new MiniLbConfigSpec();
        var what = config is null ? $"{ConfigSource.DescribeFlags(Flags)} (no MiniLbConfig '{configName}')" : $"MiniLbConfig '{configName}' generation {generation}";
        if (!TryRead(spec, out var read, out var problem))
        {
            Fail(new ConfigProblem("InvalidSpec", problem.ToString(), generation), what);
        }
        else
        {
            var (settings, listen) = (read.Zone, read.Listen);
            if (host is null || host.Address.Text != listen.Text)
            {
                DnsHost next;
                try
                {
                    next = DnsHost.Start(listen, zones, options: dnsOptions, logger: loggers.CreateLogger<DnsHost>());
                }
                catch (ListenException e)
                {
                    Fail(new ConfigProblem("ListenFailed", e.Message, generation), what);
                    return true;
                }
                var old = host;
                host = next;
                // Only started here (it closes the sockets at once); Apply waits for the rest outside the lock.
                replacedStopping = old?.StopAsync() ?? Task.CompletedTask;
            }
            host.Forwarding = read.Forwarding;
            host.Transfers.Apply(read.Transfer);
            var unchanged = Current is { } previous && previous.Source == config?.Metadata.Name && SameZone(previous.Zone, settings)
                && previous.Listen.Text == listen.Text && Problem is null;
            Current = new AppliedConfig(config?.Metadata.Name, generation, settings, listen) { Spec = spec, Liveness = read.Liveness };
            domains[settings.Domain] = true;
            Problem = null;
            if (config is null && Flags.Count == 0)
                log.LogWarning("No MiniLbConfig named '{Name}' and no flags: running on the defaults (domain {Domain}, ttl {Ttl}, listen {Listen}, loadBalancerClass {Class})",
                    configName, settings.Domain, settings.Ttl, listen, settings.LoadBalancerClass);
            else if (config is null)
                log.LogInformation("No MiniLbConfig named '{Name}': {Source} are in force (domain {Domain}, ttl {Ttl}, listen {Listen}, loadBalancerClass {Class})",
                    configName, ConfigSource.DescribeFlags(Flags), settings.Domain, settings.Ttl, listen, settings.LoadBalancerClass);
            else if (!unchanged)
                log.LogInformation("Applied {What}: domain {Domain}, ttl {Ttl}, listen {Listen}, loadBalancerClass {Class}; {Flags}",
                    what, settings.Domain, settings.Ttl, listen, settings.LoadBalancerClass, ConfigSource.OverDescription(spec, Flags));
        }
        return true;
    }

    /// <summary>What is in force, in words for the start banner, the log and /readyz.</summary>
    public string DescribeSource() => Current switch
    {
        null => Problem is { } problem ? $"no configuration in force yet: {problem.Message}" : "no configuration applied yet",
        { Source: { } name } applied => $"MiniLbConfig '{name}' generation {applied.Generation} in force; {ConfigSource.OverDescription(applied.Spec, Flags)}",
        _ => $"{ConfigSource.DescribeFlags(Flags)} in force " + (configExists && Problem is { } problem
            ? $"(MiniLbConfig '{configName}' is not applied: {problem.Message})"
            : $"(no MiniLbConfig '{configName}')"),
    };

    /// <summary>Equal answers from both settings (the record's own equality compares the address lists by reference).</summary>
    public static bool SameZone(ZoneSettings a, ZoneSettings b) =>
        a.Domain == b.Domain && a.Ttl == b.Ttl && a.LoadBalancerClass == b.LoadBalancerClass
        && a.NameServerAddresses.SequenceEqual(b.NameServerAddresses);

    private void Fail(ConfigProblem problem, string what)
    {
        Problem = problem;
        log.LogError("{What} not applied, the last good configuration keeps running: {Problem}", what, problem.Message);
    }

    /// <summary>
    /// The spec as settings, or the field that cannot work and why. The one set of rules for a MiniLbConfig, the flags
    /// of `run` and those of `serve`: the schema's rules again, for flags and clusters that skip validation (no CRD schema).
    /// </summary>
    public static bool TryRead(MiniLbConfigSpec spec, [NotNullWhen(true)] out SpecSettings? settings, [NotNullWhen(false)] out SpecProblem? problem)
    {
        settings = null;
        problem = ReadZone(spec, out var zone, out var listen);
        if (problem is not null || !TransferSettings.TryRead(spec.Transfer, out var transfer, out problem)
            || !ForwardingSettings.TryRead(spec.Forwarding, out var forwarding, out problem)
            || !LivenessSettings.TryRead(spec.NodeLiveness, out var liveness, out problem))
            return false;
        settings = new SpecSettings(zone, listen, forwarding, transfer, liveness);
        return true;
    }

    private static SpecProblem? ReadZone(MiniLbConfigSpec spec, out ZoneSettings zone, out ListenAddress listen)
    {
        zone = new ZoneSettings();
        if (!ListenAddress.TryParse(spec.Listen, out listen!, out var listenProblem))
            return new("spec.listen", listenProblem);
        zone = new ZoneSettings
        {
            Domain = (spec.Domain ?? "").Trim().TrimEnd('.').ToLowerInvariant(),
            Ttl = spec.Ttl,
            LoadBalancerClass = spec.LoadBalancerClass ?? "",
            // A specific listen address is where ns1.<domain> answers, so it is the NS glue.
            NameServerAddresses = listen.EndPoints.Select(e => e.Address).Where(a => !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any)).ToArray(),
        };
        if (spec.Ttl is < 1 or > 3600)
            return new("spec.ttl", $"{spec.Ttl} must be 1–3600 seconds");
        if (zone.Domain.Length == 0)
            return new("spec.domain", "must not be empty");
        if (zone.Domain.Length > 253 || !Regex.IsMatch(zone.Domain, MiniLbConfigSpec.DomainPattern) || zone.Domain.Split('.').Any(l => l.Length > 63))
            return new("spec.domain", $"'{spec.Domain}' must be a DNS subdomain (RFC 1123): labels of letters, digits and '-' (at most 63 each, 253 in all), separated by dots");
        if (zone.LoadBalancerClass.Length is 0 or > 253)
            return new("spec.loadBalancerClass", $"'{zone.LoadBalancerClass}' must be 1–253 characters");
        if (string.IsNullOrWhiteSpace(zone.LoadBalancerClass))
            return new("spec.loadBalancerClass", $"'{zone.LoadBalancerClass}' must not be blank");
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        DnsHost? old;
        Task replaced;
        lock (applying)
        {
            old = host;
            host = null;
            replaced = replacedStopping;
        }
        await replaced;
        if (old is not null)
            await old.StopAsync();
    }
}
