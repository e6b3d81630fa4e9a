using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

public enum EventType
{
    Normal,
    Warning,
}

/// <summary>What controllers tell users through Events; the one place that decides whether a repeat is written.</summary>
public interface IEventPublisher
{
    /// <summary>Something happened (a hostname written, a node lost): every call is one more occurrence, a repeat bumps the count.</summary>
    Task PublishAsync(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message, CancellationToken ct);

    /// <summary>
    /// A problem that holds or not (a bad annotation, a spec that cannot apply): a Warning when it appears or its
    /// message changes, nothing while it stays the same; null says it is gone, so its return is published again.
    /// </summary>
    Task ReportProblemAsync(IKubernetesObject<V1ObjectMeta> regarding, string reason, string? problem, CancellationToken ct);

    /// <summary>The object is gone: its problems are forgotten (a new object of that name starts clean).</summary>
    void Forget(IKubernetesObject<V1ObjectMeta> regarding);
}

/// <summary>
/// Writes core/v1 Events about an object for what a user must know (`kubectl describe` shows them). A repeat of the
/// same event bumps its count and last timestamp instead of adding a new object; a standing problem is written once
/// (again only after it cleared, changed, or outlived its Event). Events of cluster-scoped objects go to the
/// `default` namespace, as kubectl looks for them there. Only the leader writes; failures are logged, never thrown.
/// </summary>
[EntityRbac(typeof(Corev1Event), RbacVerb.Create | RbacVerb.Patch)]
public sealed class EventPublisher(IKubernetes client, ILeadership leadership, ILogger<EventPublisher> log, TimeProvider? time = null) : IEventPublisher
{
    public const string Component = "minilb";
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, (int Count, DateTime Last)> counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Object, string Reason), (string? Uid, string Message, DateTime Written)> problems = new();
    private readonly SemaphoreSlim writing = new(1, 1);
    private DateTime pruned;

    /// <summary>
    /// How long an Event lives on the server (kube-apiserver's --event-ttl, one hour by default): a problem still
    /// there after that is written again, so `kubectl describe` keeps showing it, and older counts are forgotten.
    /// </summary>
    public TimeSpan EventTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The replica name written as reportingInstance.</summary>
    public string Instance { get; init; } = System.Net.Dns.GetHostName();

    /// <summary>Where a 401/403 is reported instead of a warning per event.</summary>
    public AccessProblems? Access { get; init; }

    public async Task PublishAsync(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message, CancellationToken ct)
    {
        if (!leadership.IsLeader)
            return;
        var meta = regarding.Metadata;
        var ns = string.IsNullOrEmpty(meta.NamespaceProperty) ? "default" : meta.NamespaceProperty;
        var name = NameOf(regarding, type, reason, message);
        var now = time.GetUtcNow().UtcDateTime;
        await writing.WaitAsync(ct);
        try
        {
            ForgetExpiredCounts(now);
            if (counts.TryGetValue(name, out var known) && await TryBumpAsync(name, ns, known.Count + 1, now, ct))
                return;
            try
            {
                await JsonListWatch.WriteAsync(Api, HttpMethod.Post, $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/events",
                    NewEvent(regarding, name, ns, type, reason, message, now, Instance), "application/json", ct);
                counts[name] = (1, now);
            }
            catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.Conflict)
            {
                // Written by an earlier run or another leader: its count is unknown here, so continue from 2.
                await TryBumpAsync(name, ns, 2, now, ct);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (Access?.Observe(e) != true)
                log.LogWarning("Event {Reason} on {Kind} {Name} not written: {Error}", reason, regarding.Kind, meta.Name, e.Message);
        }
        finally
        {
            writing.Release();
        }
    }

    public async Task ReportProblemAsync(IKubernetesObject<V1ObjectMeta> regarding, string reason, string? problem, CancellationToken ct)
    {
        if (problem is null && problems.IsEmpty)
            return;
        var key = (ObjectOf(regarding), reason);
        if (problem is null)
        {
            problems.TryRemove(key, out _);
            return;
        }
        // A follower remembers nothing: when it becomes the leader, the problems still there are written by it.
        if (!leadership.IsLeader)
            return;
        var now = time.GetUtcNow().UtcDateTime;
        var uid = regarding.Metadata.Uid;
        if (problems.TryGetValue(key, out var last) && last.Uid == uid && last.Message == problem && now - last.Written < EventTtl)
            return;
        problems[key] = (uid, problem, now);
        await PublishAsync(regarding, EventType.Warning, reason, problem, ct);
    }

    public void Forget(IKubernetesObject<V1ObjectMeta> regarding)
    {
        var gone = ObjectOf(regarding);
        foreach (var key in problems.Keys.Where(k => k.Object == gone))
            problems.TryRemove(key, out _);
    }

    private static string ObjectOf(IKubernetesObject<V1ObjectMeta> regarding) =>
        $"{regarding.Kind}/{regarding.Metadata.NamespaceProperty}/{regarding.Metadata.Name}";

    /// <summary>The server has deleted Events older than their TTL, so their counts would only grow this map; at most one sweep per TTL.</summary>
    private void ForgetExpiredCounts(DateTime now)
    {
        if (now - pruned < EventTtl)
            return;
        pruned = now;
        foreach (var (name, (_, last)) in counts)
        {
            if (now - last >= EventTtl)
                counts.TryRemove(name, out _);
        }
    }

    /// <summary>Events live an hour by default; a 404 means it expired and a new one must be created.</summary>
    private async Task<bool> TryBumpAsync(string name, string ns, int count, DateTime now, CancellationToken ct)
    {
        var patch = new JsonObject { ["count"] = count, ["lastTimestamp"] = Timestamp(now) };
        try
        {
            await JsonListWatch.WriteAsync(Api, HttpMethod.Patch, $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/events/{Uri.EscapeDataString(name)}",
                patch.ToJsonString(), "application/merge-patch+json", ct);
            counts[name] = (count, now);
            return true;
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            counts.TryRemove(name, out _);
            return false;
        }
    }

    private Kubernetes Api => JsonListWatch.Api(client, "writing Events");

    /// <summary>
    /// A core/v1 Event as JSON text. Built as a JSON tree, not a <see cref="Corev1Event"/>: KubernetesClient writes its
    /// models by reflection and reads the answer back into one, and at start-up the leader writes an Event for every
    /// served Service (the answer, the stored Event, is not read: <see cref="JsonListWatch.WriteAsync"/>).
    /// </summary>
    internal static string NewEvent(IKubernetesObject<V1ObjectMeta> regarding, string name, string ns, EventType type, string reason,
        string message, DateTime now, string instance)
    {
        var meta = regarding.Metadata;
        // Fields the object lacks are left out, as KubernetesClient's serialiser left out nulls.
        var involved = new JsonObject();
        foreach (var (field, value) in new[] { ("apiVersion", regarding.ApiVersion), ("kind", regarding.Kind), ("name", meta.Name),
            ("namespace", meta.NamespaceProperty), ("uid", meta.Uid), ("resourceVersion", meta.ResourceVersion) })
        {
            if (!string.IsNullOrEmpty(value))
                involved[field] = value;
        }
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["involvedObject"] = involved,
            ["type"] = type.ToString(),
            ["reason"] = reason,
            ["message"] = message,
            ["count"] = 1,
            ["firstTimestamp"] = Timestamp(now),
            ["lastTimestamp"] = Timestamp(now),
            ["source"] = new JsonObject { ["component"] = Component },
            ["reportingComponent"] = Component,
            ["reportingInstance"] = instance,
        }.ToJsonString();
    }

    /// <summary>An Event's time as the API writes it (RFC 3339, whole seconds, UTC).</summary>
    private static string Timestamp(DateTime now) => now.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The same (object, type, reason, message) always maps to the same Event name, so repeats aggregate.</summary>
    public static string NameOf(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message)
    {
        var meta = regarding.Metadata;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{meta.Uid}\n{meta.NamespaceProperty}\n{meta.Name}\n{type}\n{reason}\n{message}"));
        var prefix = meta.Name.Length > 200 ? meta.Name[..200] : meta.Name;
        return $"{prefix}.{Convert.ToHexStringLower(hash)[..16]}";
    }
}
