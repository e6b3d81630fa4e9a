using System.Collections.Concurrent;
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
public sealed class ServiceController(LiveConfig config, StatusWriter status, EventPublisher events) : IEntityController<ServiceView>
{
    private readonly ConcurrentDictionary<string, string> warned = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> annotationWarned = new(StringComparer.Ordinal);

    public async Task<ReconciliationResult> ReconcileAsync(ServiceView service, CancellationToken ct)
    {
        if (config.Current is not { } applied)
            return ReconciliationResult.Success(TimeSpan.FromSeconds(1));
        var settings = applied.Zone;
        var key = service.Key;
        await WarnAboutAnnotationsAsync(service, key, ct);
        var current = service.Ingress;
        var served = ServedService.GetsHostname(service, settings);
        var hostname = ServedService.HostnameOf(service, settings);
        List<LoadBalancerIngressJson> desired = served
            ? [new LoadBalancerIngressJson { Hostname = hostname }]
            : current.Where(i => !IsOurs(service, i)).ToList();
        if (!served && desired.Count == current.Length)
        {
            warned.TryRemove(key, out _);
            return ReconciliationResult.Success();
        }
        var wrote = await status.PatchServiceAsync(service, Status(current), Status(desired), ct);
        if (wrote)
        {
            await events.PublishAsync(service, EventType.Normal, served ? "HostnameAssigned" : "HostnameRemoved",
                served ? $"status.loadBalancer.ingress set to {hostname}; minilb answers it with the ready pod addresses"
                : ServedService.IsOurLoadBalancer(service, settings)
                    ? $"excluded by the annotation {ServedService.ExcludeAnnotation}: \"true\"; its minilb hostname was removed and DNS no longer answers it"
                    : $"no longer served by minilb (type {service.Type}, loadBalancerClass '{service.LoadBalancerClass}'); its minilb hostname was removed",
                ct);
        }
        if (served)
            await WarnAboutPortsAsync(service, key, hostname, ct);
        return ReconciliationResult.Success();
    }

    public Task<ReconciliationResult> DeletedAsync(ServiceView service, CancellationToken ct)
    {
        warned.TryRemove(service.Key, out _);
        annotationWarned.TryRemove(service.Key, out _);
        return Task.FromResult(ReconciliationResult.Success());
    }

    /// <summary>
    /// A hostname minilb wrote: under a domain this replica applied, or — on a Service that is no longer a
    /// LoadBalancer, so no load balancer can own the entry — one of minilb's shape (hostname only,
    /// `&lt;service&gt;.&lt;namespace&gt;.…`), which a replica started after a domain change cannot otherwise know.
    /// </summary>
    /// <summary>The part of the status minilb writes: the whole ingress list (a merge patch replaces lists), nothing else.</summary>
    private static System.Text.Json.Nodes.JsonNode? Status(IReadOnlyCollection<LoadBalancerIngressJson> ingress) =>
        System.Text.Json.JsonSerializer.SerializeToNode(new ServiceStatusJson
        {
            LoadBalancer = new LoadBalancerStatusJson { Ingress = ingress.Count == 0 ? null : [.. ingress] },
        }, ViewJson.Default.ServiceStatusJson);

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

    /// <summary>A minilb annotation with a value other than "true"/"false" (or serve on an ExternalName): one Warning per message.</summary>
    private async Task WarnAboutAnnotationsAsync(ServiceView service, string key, CancellationToken ct)
    {
        if (ServedService.AnnotationProblem(service) is not { } problem)
        {
            annotationWarned.TryRemove(key, out _);
            return;
        }
        if (annotationWarned.TryGetValue(key, out var previous) && previous == problem)
            return;
        await events.PublishAsync(service, EventType.Warning, "InvalidAnnotation", problem, ct);
        annotationWarned[key] = problem;
    }

    /// <summary>One Warning per Service and set of mismatched ports; repeated only when the ports change.</summary>
    private async Task WarnAboutPortsAsync(ServiceView service, string key, string hostname, CancellationToken ct)
    {
        var mismatched = service.Ports
            .Where(p => p.TargetPort is { Length: > 0 } target && target != p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Select(p => $"port {p.Port}{(string.IsNullOrEmpty(p.Name) ? "" : $" ({p.Name})")} → targetPort {p.TargetPort}")
            .ToList();
        if (mismatched.Count == 0)
        {
            warned.TryRemove(key, out _);
            return;
        }
        var message = $"{string.Join(", ", mismatched)}: minilb answers {hostname} with pod addresses, bypassing the Service's port mapping, so clients must connect to the targetPort";
        if (warned.TryGetValue(key, out var previous) && previous == message)
            return;
        await events.PublishAsync(service, EventType.Warning, "PortDiffersFromTargetPort", message, ct);
        warned[key] = message;
    }
}
