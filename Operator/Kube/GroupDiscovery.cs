using System.Net;
using System.Text.Json;
using k8s;

namespace MiniLb.Operator.Kube;

/// <summary>
/// Which kinds the API server serves in a group version, asked once per interval for every kind of it. A cluster
/// without the Gateway API then costs one <c>GET /apis/gateway.networking.k8s.io/v1</c> (404) per
/// <see cref="InformerOptions.DiscoveryInterval"/> instead of a LIST of each of its kinds, each answered 404 and
/// thrown as an exception; one with the standard channel only does not LIST the experimental TLSRoute every interval.
/// The informers of absent <see cref="ResourceKind.Optional"/> kinds ask here first and LIST only once their kind is
/// served, which they find out within an interval, as before.
/// </summary>
public sealed class GroupDiscovery(Func<string, CancellationToken, Task<IReadOnlySet<string>?>> ask, TimeProvider time, TimeSpan fresh)
{
    /// <summary>How long one look may take; a look that fails counts as serving (the LIST then says what is wrong).</summary>
    public static readonly TimeSpan LookTimeout = TimeSpan.FromSeconds(10);

    private static readonly IReadOnlySet<string> Unknown = new HashSet<string>();
    private readonly Lock gate = new();
    private readonly Dictionary<string, (long At, Task<IReadOnlySet<string>?> Answer)> answers = new(StringComparer.Ordinal);

    /// <summary>
    /// Looks at <c>/apis/&lt;group&gt;/&lt;version&gt;</c> through the client's HTTP pipeline: the plurals it lists, or
    /// null for a 404. An answer is reused for <paramref name="fresh"/>. None for a client that is not KubernetesClient's
    /// (a test's fake): its informers' LISTs are then the look.
    /// </summary>
    public static GroupDiscovery? Over(IKubernetes client, TimeProvider time, TimeSpan fresh) =>
        client is not Kubernetes api ? null : new GroupDiscovery(async (groupVersion, ct) =>
        {
            using var response = await JsonListWatch.GetAsync(api, $"apis/{groupVersion}", ct);
            if (response.StatusCode == HttpStatusCode.NotFound)
                return null;
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            return Plurals(await JsonDocument.ParseAsync(body, cancellationToken: ct));
        }, time, fresh);

    /// <summary>The <c>resources[].name</c> of an APIResourceList (subresources such as <c>gateways/status</c> included).</summary>
    internal static IReadOnlySet<string> Plurals(JsonDocument list)
    {
        using (list)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            if (list.RootElement.ValueKind == JsonValueKind.Object && list.RootElement.TryGetProperty("resources", out var resources)
                && resources.ValueKind == JsonValueKind.Array)
            {
                foreach (var resource in resources.EnumerateArray())
                {
                    if (resource.ValueKind == JsonValueKind.Object && resource.TryGetProperty("name", out var name) && name.GetString() is { } plural)
                        names.Add(plural);
                }
            }
            return names;
        }
    }

    /// <summary>
    /// False only when the server said it does not serve the kind (404 for its group version, or a list without it);
    /// true when it does, and when the look failed otherwise (unreachable, 403, 500), so the informer's own LIST meets
    /// and reports the problem.
    /// </summary>
    public async Task<bool> ServesAsync(ResourceKind kind, CancellationToken ct)
    {
        Task<IReadOnlySet<string>?> answer;
        lock (gate)
        {
            var now = time.GetTimestamp();
            if (!answers.TryGetValue(kind.ApiVersion, out var last) || time.GetElapsedTime(last.At, now) >= fresh)
                answers[kind.ApiVersion] = last = (now, LookAsync(kind.ApiVersion));
            answer = last.Answer;
        }
        return await answer.WaitAsync(ct) is { } plurals && (ReferenceEquals(plurals, Unknown) || plurals.Contains(kind.Plural));
    }

    private async Task<IReadOnlySet<string>?> LookAsync(string groupVersion)
    {
        // Not the asking informer's token: other informers may share this answer after it stops asking.
        using var timeout = new CancellationTokenSource(LookTimeout, time);
        try
        {
            return await ask(groupVersion, timeout.Token);
        }
        catch (Exception)
        {
            return Unknown;
        }
    }
}
