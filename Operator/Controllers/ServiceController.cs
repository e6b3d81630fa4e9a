using k8s.Models;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Controllers;

/// <summary>
/// Writes `status.loadBalancer.ingress` of minilb's LoadBalancers: exactly one entry, the hostname DNS answers.
/// When a Service stops matching (type or class changed, or `minilb/exclude: "true"`) the entry minilb wrote is
/// removed; Services of other classes, and the other Services DNS serves on `minilb/serve`, are never touched.
/// Warns about `minilb/exclude`/`minilb/serve` values other than "true"/"false", and when a port's targetPort
/// differs from its port, because DNS answers pod addresses and clients must use the targetPort.
/// </summary>
public sealed class ServiceController(IConfigInForce config, IStatusPatches status, IEventPublisher events) : IEntityController<ServiceView>
{
    public async Task<ReconciliationResult> ReconcileAsync(ServiceView service, CancellationToken ct)
    {
        if (config.Current is not { } applied)
            return ReconciliationResult.Success(TimeSpan.FromSeconds(1));
        var settings = applied.Zone;
        await events.ReportProblemAsync(service, "InvalidAnnotation", ServedService.AnnotationProblem(service), ct);
        var current = service.Ingress;
        var served = ServedService.GetsHostname(service, settings);
        var hostname = ServedService.HostnameOf(service, settings);
        List<LoadBalancerIngressJson> desired = served
            ? [new LoadBalancerIngressJson { Hostname = hostname }]
            : current.Where(i => !IsOurs(service, i)).ToList();
        if ((served || desired.Count != current.Length) && await status.SetIngressAsync(service, desired, ct))
        {
            await events.PublishAsync(service, EventType.Normal, served ? "HostnameAssigned" : "HostnameRemoved",
                served ? $"status.loadBalancer.ingress set to {hostname}; minilb answers it with the ready pod addresses"
                : ServedService.IsOurLoadBalancer(service, settings)
                    ? $"excluded by the annotation {ServedService.ExcludeAnnotation}: \"true\"; its minilb hostname was removed and DNS no longer answers it"
                    : $"no longer served by minilb (type {service.Type}, loadBalancerClass '{service.LoadBalancerClass}'); its minilb hostname was removed",
                ct);
        }
        await events.ReportProblemAsync(service, "PortDiffersFromTargetPort", served ? PortProblem(service, hostname) : null, ct);
        return ReconciliationResult.Success();
    }

    public Task<ReconciliationResult> DeletedAsync(ServiceView service, CancellationToken ct)
    {
        events.Forget(service);
        return Task.FromResult(ReconciliationResult.Success());
    }

    /// <summary>
    /// A hostname minilb wrote: under a domain this replica applied, or — on a Service that is no longer a
    /// LoadBalancer, so no load balancer can own the entry — one of minilb's shape (hostname only,
    /// `&lt;service&gt;.&lt;namespace&gt;.…`), which a replica started after a domain change cannot otherwise know.
    /// </summary>
    private bool IsOurs(ServiceView service, LoadBalancerIngressJson entry)
    {
        if (entry.Hostname is not { Length: > 0 } name)
            return false;
        if (config.Domains.Any(domain => name == ServedService.HostnameOf(service, new ZoneSettings { Domain = domain })))
            return true;
        var prefix = ServedService.HostnameOf(service, new ZoneSettings { Domain = "" });
        return service.Type != "LoadBalancer" && entry.Ip is null && entry.Ports is not { Count: > 0 }
            && name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length;
    }

    /// <summary>Ports whose targetPort differs (one Warning per set of them), or null when every port maps to itself.</summary>
    private static string? PortProblem(ServiceView service, string hostname)
    {
        var mismatched = service.Ports
            .Where(p => p.TargetPort is { Length: > 0 } target && target != p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Select(p => $"port {p.Port}{(string.IsNullOrEmpty(p.Name) ? "" : $" ({p.Name})")} → targetPort {p.TargetPort}")
            .ToList();
        return mismatched.Count == 0
            ? null
            : $"{string.Join(", ", mismatched)}: minilb answers {hostname} with pod addresses, bypassing the Service's port mapping, so clients must connect to the targetPort";
    }
}
