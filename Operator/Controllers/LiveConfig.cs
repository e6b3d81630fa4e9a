using System.Net;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Controllers;

/// <summary>The configuration in effect: where it came from (null: the defaults), the zone settings and the DNS listen address.</summary>
public sealed record AppliedConfig(string? Source, long? Generation, ZoneSettings Zone, ListenAddress Listen);

/// <summary>Why the newest MiniLbConfig spec is not in effect; the last good configuration keeps running.</summary>
public sealed record ConfigProblem(string Reason, string Message, long? Generation);

/// <summary>
/// Applies the selected MiniLbConfig on every replica, without a restart: a new listen address is bound before the
/// old one closes; new zone settings are handed on (<see cref="Changed"/>). A spec that cannot work (a port in use)
/// changes nothing: the last good configuration keeps running and <see cref="Problem"/> says why.
/// </summary>
/// <param name="defaults">The spec used while no MiniLbConfig exists (the CRD's defaults unless given).</param>
public sealed class LiveConfig(string configName, ZoneHolder zones, ILoggerFactory loggers, MiniLbConfigSpec? defaults = null, DnsHostOptions? dnsOptions = null) : IAsyncDisposable
{
    private readonly ILogger log = loggers.CreateLogger<LiveConfig>();
    private readonly Lock applying = new();
    private DnsHost? host;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> domains = new(StringComparer.Ordinal);

    public string ConfigName => configName;

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
        lock (applying)
            changed = ApplyLocked(config);
        if (changed)
            Changed?.Invoke();
    }

    private bool ApplyLocked(MiniLbConfig? config)
    {
        var generation = config?.Metadata.Generation;
        if (config is not null && Current is { Source: not null } running && running.Generation == generation && Problem is null)
            return false;
        var spec = config?.Spec ?? defaults ?? new MiniLbConfigSpec();
        var what = config is null ? $"defaults (no MiniLbConfig '{configName}')" : $"MiniLbConfig '{configName}' generation {generation}";
        if (!TryRead(spec, out var settings, out var listen, out var problem))
        {
            Fail(new ConfigProblem("InvalidSpec", problem, generation), what);
        }
        else
        {
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
                old?.StopAsync().GetAwaiter().GetResult();
            }
            host.Forwarding = Forwarding.ForwardingSettings.TryRead(spec.Forwarding, out var forwarding, out _) ? forwarding : null;
            var unchanged = Current is { } previous && SameZone(previous.Zone, settings) && Problem is null;
            Current = new AppliedConfig(config?.Metadata.Name, generation, settings, listen);
            domains[settings.Domain] = true;
            Problem = null;
            if (config is null)
                log.LogWarning("No MiniLbConfig named '{Name}': running on the defaults (domain {Domain}, ttl {Ttl}, listen {Listen}, loadBalancerClass {Class})",
                    configName, settings.Domain, settings.Ttl, listen, settings.LoadBalancerClass);
            else if (!unchanged)
                log.LogInformation("Applied {What}: domain {Domain}, ttl {Ttl}, listen {Listen}, loadBalancerClass {Class}",
                    what, settings.Domain, settings.Ttl, listen, settings.LoadBalancerClass);
        }
        return true;
    }

    /// <summary>Equal answers from both settings (the record's own equality compares the address lists by reference).</summary>
    public static bool SameZone(ZoneSettings a, ZoneSettings b) =>
        a.Domain == b.Domain && a.Ttl == b.Ttl && a.LoadBalancerClass == b.LoadBalancerClass
        && a.NameServerAddresses.SequenceEqual(b.NameServerAddresses);

    private void Fail(ConfigProblem problem, string what)
    {
        Problem = problem;
        log.LogError("{What} not applied, the last good configuration keeps running: {Problem}", what, problem.Message);
    }

    /// <summary>The spec as zone settings and a listen address, or a message naming the field that cannot work.</summary>
    public static bool TryRead(MiniLbConfigSpec spec, out ZoneSettings settings, out ListenAddress listen, out string problem)
    {
        settings = new ZoneSettings();
        listen = null!;
        if (!ListenAddress.TryParse(spec.Listen, out var address, out var listenProblem))
        {
            problem = $"spec.listen: {listenProblem}";
            return false;
        }
        listen = address;
        settings = new ZoneSettings
        {
            Domain = (spec.Domain ?? "").Trim().TrimEnd('.').ToLowerInvariant(),
            Ttl = spec.Ttl,
            LoadBalancerClass = spec.LoadBalancerClass ?? "",
            // A specific listen address is where ns1.<domain> answers, so it is the NS glue.
            NameServerAddresses = address.EndPoints.Select(e => e.Address).Where(a => !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any)).ToArray(),
        };
        if (spec.Ttl is < 1 or > 3600)
        {
            problem = $"spec.ttl: {spec.Ttl} is outside 1–3600 seconds";
            return false;
        }
        if (settings.Problem() is { } zoneProblem)
        {
            problem = "spec: " + zoneProblem.Replace("--load-balancer-class", "loadBalancerClass", StringComparison.Ordinal).Replace("--", "", StringComparison.Ordinal);
            return false;
        }
        if (!Forwarding.ForwardingSettings.TryRead(spec.Forwarding, out _, out problem))
            return false;
        problem = "";
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        DnsHost? old;
        lock (applying)
        {
            old = host;
            host = null;
        }
        if (old is not null)
            await old.StopAsync();
    }
}
