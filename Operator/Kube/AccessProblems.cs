using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace MiniLb.Operator.Kube;

/// <summary>
/// A call the API server refused: 403 for a permission RBAC does not grant (<see cref="Verb"/> and
/// <see cref="Resource"/> read from kube-apiserver's message), or 401 when it does not accept the credentials.
/// </summary>
public sealed partial record AccessProblem(int Code, string? Verb, string? Resource, string Group, string? Namespace, string ServerMessage)
{
    /// <summary>Words an operator can act on: what is missing and where to add it.</summary>
    public string Describe() => Code == 401
        ? $"the API server does not accept minilb's credentials (401 Unauthorized): check the ServiceAccount token or the kubeconfig user"
        : Verb is null
            ? $"the API server refused a call (403 Forbidden): {ServerMessage}"
            : $"minilb may not {Verb} {Resource}{(Group.Length == 0 ? "" : $" in API group {Group}")}{(Namespace is null ? "" : $" in namespace {Namespace}")} (403 Forbidden): add the rule to its RBAC (the chart's templates/rbac.yaml, or config/rbac)";

    [GeneratedRegex("cannot (?<verb>\\S+) resource \"(?<resource>[^\"]+)\" in API group \"(?<group>[^\"]*)\"(?: in the namespace \"(?<ns>[^\"]+)\")?")]
    private static partial Regex Forbidden();

    /// <summary>The problem an exception from KubernetesClient reports, or null when it is not a 401/403.</summary>
    public static AccessProblem? From(Exception e)
    {
        var (code, body) = e switch
        {
            HttpOperationException { Response: { } response } => ((int)response.StatusCode, response.Content),
            KubernetesException { Status: { Code: { } c } status } => (c, status.Message),
            _ => (0, null),
        };
        if (code is not (401 or 403)) return e.InnerException is { } inner ? From(inner) : null;
        var message = MessageOf(body) ?? body ?? "";
        var match = Forbidden().Match(message);
        return code == 401 || !match.Success
            ? new AccessProblem(code, null, null, "", null, message)
            : new AccessProblem(code, match.Groups["verb"].Value, match.Groups["resource"].Value, match.Groups["group"].Value,
                match.Groups["ns"].Success ? match.Groups["ns"].Value : null, message);
    }

    private static string? MessageOf(string? body)
    {
        if (body is null || !body.TrimStart().StartsWith('{')) return body;
        try
        {
            return JsonNode.Parse(body)?["message"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return body;
        }
    }
}

/// <summary>
/// The permissions minilb found missing. Each is logged once when first refused and once when granted again;
/// until then the callers' own retries stay quiet about it. While any is missing, <see cref="RunAsync"/> asks the
/// API server (SelfSubjectAccessReview, which every authenticated user may create) whether it is granted now, so
/// minilb recovers as soon as the rule is put back, without waiting out its retry backoff.
/// </summary>
public sealed class AccessProblems(IKubernetes client, ILogger<AccessProblems> log, TimeProvider? time = null)
{
    private readonly TimeProvider time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, AccessProblem> problems = new(StringComparer.Ordinal);
    // Completed (and replaced) when a problem is recorded: the recheck loop sleeps on it while nothing is missing.
    private TaskCompletionSource added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How often missing permissions are checked again.</summary>
    public TimeSpan Recheck { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Raised when a problem appears or goes away (from the recheck loop or a caller's thread).</summary>
    public event Action? Changed;

    public IReadOnlyList<AccessProblem> Current => [.. problems.Values.OrderBy(p => p.Describe(), StringComparer.Ordinal)];

    /// <summary>One line for a condition or /readyz, or null when nothing is missing.</summary>
    public string? Summary() => Current is { Count: > 0 } current ? string.Join("; ", current.Select(p => p.Describe())) : null;

    /// <summary>Records <paramref name="e"/> if it is a 401/403; true then, so the caller need not log it again.</summary>
    public bool Observe(Exception? e)
    {
        if (e is null || AccessProblem.From(e) is not { } problem) return false;
        if (problems.TryAdd(KeyOf(problem), problem))
        {
            Interlocked.Exchange(ref added, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            log.LogWarning("{Refusal}: {Problem}. Retrying; DNS keeps answering from what is already known. Server: {ServerMessage}",
                problem.Code == 401 ? "Unauthorized" : "Forbidden", problem.Describe(), problem.ServerMessage);
            Changed?.Invoke();
        }
        return true;
    }

    // Not by namespace: a ClusterRole rule missing for Services is one problem, however many namespaces show it.
    private static string KeyOf(AccessProblem p) => $"{p.Code} {p.Verb} {p.Group} {p.Resource}";

    /// <summary>
    /// Asks again about every missing permission, every <see cref="Recheck"/>, until cancelled; while nothing is
    /// missing it sleeps until something is (no timer wakes an operator that has every permission).
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var next = Volatile.Read(ref added).Task; // taken before looking, so a problem added meanwhile wakes it
                if (problems.IsEmpty)
                    await next.WaitAsync(ct);
                await Task.Delay(Recheck, time, ct);
                foreach (var (key, problem) in problems)
                {
                    if (!await GrantedAsync(problem, ct)) continue;
                    if (!problems.TryRemove(key, out _)) continue;
                    log.LogInformation("Allowed again: {Problem}", problem.Code == 401 ? "the API server accepts minilb's credentials" : $"{problem.Verb} {problem.Resource}");
                    Changed?.Invoke();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> GrantedAsync(AccessProblem problem, CancellationToken ct)
    {
        var attributes = new JsonObject { ["verb"] = problem.Verb ?? "get", ["group"] = problem.Group };
        if (problem.Resource is { } resource)
        {
            var slash = resource.IndexOf('/');
            attributes["resource"] = slash < 0 ? resource : resource[..slash];
            if (slash >= 0) attributes["subresource"] = resource[(slash + 1)..];
        }
        if (problem.Namespace is { } ns) attributes["namespace"] = ns;
        var review = new JsonObject
        {
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["kind"] = "SelfSubjectAccessReview",
            ["spec"] = new JsonObject { ["resourceAttributes"] = attributes },
        };
        try
        {
            var answer = await client.CustomObjects.CreateClusterCustomObjectAsync(review, "authorization.k8s.io", "v1", "selfsubjectaccessreviews", cancellationToken: ct);
            // Any answer means the credentials work again; a 403 needs the review to say allowed.
            return problem.Code == 401 || (answer is JsonElement json && json.TryGetProperty("status", out var status)
                && status.TryGetProperty("allowed", out var allowed) && allowed.ValueKind == JsonValueKind.True);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            log.LogDebug("SelfSubjectAccessReview for {Problem} failed: {Error}", problem.Describe(), e.Message);
            return false;
        }
    }
}
