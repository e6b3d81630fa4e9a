using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;

namespace MiniLb.Operator.Kube;

/// <summary>The fields of a coordination.k8s.io/v1 Lease that leader election reads and writes.</summary>
public sealed class LeaseJson
{
    [JsonPropertyName("apiVersion")] public string? ApiVersion { get; set; }
    [JsonPropertyName("kind")] public string? Kind { get; set; }
    [JsonPropertyName("metadata")] public ObjectMetaJson? Metadata { get; set; }
    [JsonPropertyName("spec")] public LeaseSpecJson? Spec { get; set; }
}

public sealed class LeaseSpecJson
{
    [JsonPropertyName("holderIdentity")] public string? HolderIdentity { get; set; }
    [JsonPropertyName("leaseDurationSeconds")] public int? LeaseDurationSeconds { get; set; }
    [JsonPropertyName("acquireTime")] public string? AcquireTime { get; set; }
    [JsonPropertyName("renewTime")] public string? RenewTime { get; set; }
    [JsonPropertyName("leaseTransitions")] public int? LeaseTransitions { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LeaseJson))]
internal sealed partial class LeaseJsonContext : JsonSerializerContext;

/// <summary>
/// The lock <see cref="LeaseLeadership"/> competes over: a Lease read and written as a small, source-generated JSON
/// shape through the client's HTTP pipeline, in place of KubernetesClient's LeaseLock.
/// <list type="bullet">
/// <item>No <c>V1Lease</c> model: LeaseLock serialised one with the reflection-based resolver on every renewal,
/// and after start-up's page-out that code was read back in every 5 s (most of the idle page faults).</item>
/// <item>A renewal is one merge PATCH of the spec with the resourceVersion of the last write as a precondition,
/// not a GET and a PUT of the whole object. While this replica holds the Lease and its last write landed, a read can
/// only return what it wrote, so <see cref="GetAsync"/> answers that (client-go's elector takes the same fast path).
/// If anyone else changed the Lease meanwhile, the API server refuses the patch (409 Conflict), the renewal fails,
/// and the next one reads the Lease again.</item>
/// </list>
/// </summary>
internal sealed class JsonLeaseLock : ILock
{
    private readonly Kubernetes api;
    private readonly string @namespace;
    private readonly string name;
    private readonly string path;
    private string? resourceVersion;
    private LeaderElectionRecord? written;

    public JsonLeaseLock(IKubernetes client, string @namespace, string name, string identity)
    {
        api = JsonListWatch.Api(client, "the Lease lock");
        this.@namespace = @namespace;
        this.name = name;
        Identity = identity;
        path = $"apis/coordination.k8s.io/v1/namespaces/{Uri.EscapeDataString(@namespace)}/leases";
    }

    public string Identity { get; }

    public string Describe() => $"{@namespace}/{name}";

    /// <summary>The Lease's record; a missing Lease throws the 404 the elector expects before it creates one.</summary>
    public async Task<LeaderElectionRecord> GetAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref written) is { } held)
            return held;
        return Remember(await SendAsync(HttpMethod.Get, $"{path}/{Uri.EscapeDataString(name)}", null, cancellationToken));
    }

    /// <summary>False when someone else created the Lease first (409 AlreadyExists); other failures throw.</summary>
    public Task<bool> CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default) =>
        WriteAsync(record, HttpMethod.Post, path, new LeaseJson
        {
            ApiVersion = "coordination.k8s.io/v1",
            Kind = "Lease",
            Metadata = new ObjectMetaJson { Name = name, Namespace = @namespace },
            Spec = Spec(record),
        }, cancellationToken);

    /// <summary>False when the Lease changed since this lock last read or wrote it (409 Conflict); other failures throw.</summary>
    public Task<bool> UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default) =>
        WriteAsync(record, HttpMethod.Patch, $"{path}/{Uri.EscapeDataString(name)}", new LeaseJson
        {
            Metadata = new ObjectMetaJson
            {
                ResourceVersion = Volatile.Read(ref resourceVersion)
                    ?? throw new InvalidOperationException($"Lease {Describe()}: read or create it before updating it"),
            },
            Spec = Spec(record),
        }, cancellationToken);

    private async Task<bool> WriteAsync(LeaderElectionRecord record, HttpMethod method, string relative, LeaseJson body, CancellationToken ct)
    {
        // Until the write is known to have landed, the Lease is whatever the server says.
        Volatile.Write(ref written, null);
        try
        {
            Remember(await SendAsync(method, relative, body, ct));
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            Volatile.Write(ref resourceVersion, null);
            return false;
        }
        if (record.HolderIdentity == Identity)
            Volatile.Write(ref written, record);
        return true;
    }

    private LeaderElectionRecord Remember(LeaseJson lease)
    {
        Volatile.Write(ref resourceVersion, lease.Metadata?.ResourceVersion);
        return Record(lease.Spec);
    }

    private async Task<LeaseJson> SendAsync(HttpMethod method, string relative, LeaseJson? body, CancellationToken ct)
    {
        // No timeout of its own: the caller's token carries it (LeaseLeadership: what is left of the renew deadline).
        using var content = body is null ? null : new StringContent(
            JsonSerializer.Serialize(body, LeaseJsonContext.Default.LeaseJson), Encoding.UTF8,
            method == HttpMethod.Patch ? "application/merge-patch+json" : "application/json");
        using var response = await JsonListWatch.SendAsync(api, method, relative, content, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        return await JsonSerializer.DeserializeAsync(stream, LeaseJsonContext.Default.LeaseJson, ct)
            ?? throw new InvalidDataException($"the API server answered Lease {Describe()} with null");
    }

    /// <summary>The record as the Lease's spec; times as the API's MicroTime (microseconds, UTC).</summary>
    internal static LeaseSpecJson Spec(LeaderElectionRecord record) => new()
    {
        HolderIdentity = record.HolderIdentity,
        LeaseDurationSeconds = record.LeaseDurationSeconds,
        AcquireTime = MicroTime(record.AcquireTime),
        RenewTime = MicroTime(record.RenewTime),
        LeaseTransitions = record.LeaderTransitions,
    };

    /// <summary>The spec as the elector's record: a missing field stays null (or 0), as KubernetesClient's LeaseLock reads it.</summary>
    internal static LeaderElectionRecord Record(LeaseSpecJson? spec) => new()
    {
        HolderIdentity = spec?.HolderIdentity,
        LeaseDurationSeconds = spec?.LeaseDurationSeconds ?? 0,
        AcquireTime = Time(spec?.AcquireTime),
        RenewTime = Time(spec?.RenewTime),
        LeaderTransitions = spec?.LeaseTransitions ?? 0,
    };

    private static string? MicroTime(DateTime? time) =>
        time?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTime? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time.UtcDateTime : null;
}
