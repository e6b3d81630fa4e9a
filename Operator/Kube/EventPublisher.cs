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

/// <summary>
/// Writes core/v1 Events about an object for what a user must know (`kubectl describe` shows them). A repeat of the
/// same event bumps its count and last timestamp instead of adding a new object. Events of cluster-scoped objects
/// go to the `default` namespace, as kubectl looks for them there. Only the leader writes; failures are logged, never thrown.
/// </summary>
[EntityRbac(typeof(Corev1Event), RbacVerb.Create | RbacVerb.Patch)]
public sealed class EventPublisher(IKubernetes client, ILeadership leadership, ILogger<EventPublisher> log, TimeProvider? time = null)
{
    public const string Component = "minilb";
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, int> counts = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim writing = new(1, 1);

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
            if (counts.TryGetValue(name, out var count) && await TryBumpAsync(name, ns, count + 1, now, ct))
                return;
            try
            {
                await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
                {
                    Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                    InvolvedObject = new V1ObjectReference
                    {
                        ApiVersion = regarding.ApiVersion,
                        Kind = regarding.Kind,
                        Name = meta.Name,
                        NamespaceProperty = meta.NamespaceProperty,
                        Uid = meta.Uid,
                        ResourceVersion = meta.ResourceVersion,
                    },
                    Type = type.ToString(),
                    Reason = reason,
                    Message = message,
                    Count = 1,
                    FirstTimestamp = now,
                    LastTimestamp = now,
                    Source = new V1EventSource { Component = Component },
                    ReportingComponent = Component,
                    ReportingInstance = Instance,
                }, ns, cancellationToken: ct);
                counts[name] = 1;
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

    /// <summary>Events live an hour by default; a 404 means it expired and a new one must be created.</summary>
    private async Task<bool> TryBumpAsync(string name, string ns, int count, DateTime now, CancellationToken ct)
    {
        var patch = new JsonObject { ["count"] = count, ["lastTimestamp"] = now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'") };
        try
        {
            await client.CoreV1.PatchNamespacedEventAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns, cancellationToken: ct);
            counts[name] = count;
            return true;
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            counts.TryRemove(name, out _);
            return false;
        }
    }

    /// <summary>The same (object, type, reason, message) always maps to the same Event name, so repeats aggregate.</summary>
    public static string NameOf(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message)
    {
        var meta = regarding.Metadata;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{meta.Uid}\n{meta.NamespaceProperty}\n{meta.Name}\n{type}\n{reason}\n{message}"));
        var prefix = meta.Name.Length > 200 ? meta.Name[..200] : meta.Name;
        return $"{prefix}.{Convert.ToHexStringLower(hash)[..16]}";
    }
}
