using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Controllers;

// The narrow views controllers are built from: what they read, where they write. The operator hands them the live
// parts (LiveConfig, the informers, StatusWriter); unit tests hand them fakes, so a controller's rules are tested
// without an API server. Events go through Kube's IEventPublisher.

/// <summary>What controllers read of the configuration in force.</summary>
public interface IConfigInForce
{
    /// <summary>The MiniLbConfig in use (`--config`).</summary>
    string ConfigName { get; }

    /// <summary>The flags of `minilb run` that set the defaults.</summary>
    IReadOnlyList<GivenFlag> Flags { get; }

    /// <summary>What is applied now; null until a first configuration applied.</summary>
    AppliedConfig? Current { get; }

    /// <summary>Why the newest spec (or the first) is not applied; null when nothing is wrong.</summary>
    ConfigProblem? Problem { get; }

    /// <summary>Every domain this replica applied: hostnames under them are ones minilb may have written.</summary>
    IEnumerable<string> Domains { get; }

    /// <summary>Where DNS answers; empty while it does not listen.</summary>
    IReadOnlyList<IPEndPoint> DnsEndPoints { get; }

    /// <summary>What is in force, in words (the flags, the defaults or which MiniLbConfig, and why).</summary>
    string DescribeSource();
}

/// <summary>What the MiniLbConfig controller reports on besides the configuration: the caches and the running parts.</summary>
public interface IClusterFacts
{
    /// <summary>The routes the Nodes give.</summary>
    RoutePlan Routes { get; }

    /// <summary>Ready pod addresses outside their node's podCIDRs (<see cref="PodNetworkPreflight"/>).</summary>
    IReadOnlyList<StrayPodAddress> StrayPodAddresses { get; }

    ServedCounts Served { get; }

    /// <summary>The permissions the API server refused, in one line; null when none is missing.</summary>
    string? Forbidden { get; }

    /// <summary>Node liveness as set; null when it is off.</summary>
    LivenessSettings? Liveness { get; }

    /// <summary>What this replica's probes found, by node (empty while liveness is off).</summary>
    IReadOnlyDictionary<string, NodeState> NodeStates { get; }
}

/// <summary>The status fields controllers own. Each writes only when something changes and only on the leader; true when it wrote.</summary>
public interface IStatusPatches
{
    /// <summary>`status.loadBalancer.ingress` of a Service, the whole list (a merge patch replaces lists).</summary>
    Task<bool> SetIngressAsync(ServiceView service, IReadOnlyCollection<LoadBalancerIngressJson> ingress, CancellationToken ct);

    Task<bool> SetStatusAsync(MiniLbConfig config, MiniLbConfigStatus status, CancellationToken ct);
}

/// <summary><see cref="IStatusPatches"/> through the framework's <see cref="StatusWriter"/> (merge patches on /status).</summary>
public sealed class StatusPatches(StatusWriter writer) : IStatusPatches
{
    public Task<bool> SetIngressAsync(ServiceView service, IReadOnlyCollection<LoadBalancerIngressJson> ingress, CancellationToken ct) =>
        writer.PatchServiceAsync(service, Ingress(service.Ingress), Ingress(ingress), ct);

    public Task<bool> SetStatusAsync(MiniLbConfig config, MiniLbConfigStatus status, CancellationToken ct) =>
        writer.PatchStatusAsync(config, status, ct);

    /// <summary>The part of a Service status minilb writes: the ingress list, nothing else.</summary>
    private static JsonNode? Ingress(IReadOnlyCollection<LoadBalancerIngressJson> ingress) =>
        JsonSerializer.SerializeToNode(new ServiceStatusJson
        {
            LoadBalancer = new LoadBalancerStatusJson { Ingress = ingress.Count == 0 ? null : [.. ingress] },
        }, ViewJson.Default.ServiceStatusJson);
}

/// <summary><see cref="IConfigInForce"/> of the running <see cref="LiveConfig"/>.</summary>
internal sealed class LiveConfigInForce(LiveConfig config) : IConfigInForce
{
    public string ConfigName => config.ConfigName;
    public IReadOnlyList<GivenFlag> Flags => config.Flags;
    public AppliedConfig? Current => config.Current;
    public ConfigProblem? Problem => config.Problem;
    public IEnumerable<string> Domains => config.Domains;
    public IReadOnlyList<IPEndPoint> DnsEndPoints => config.Host?.EndPoints ?? [];
    public string DescribeSource() => config.DescribeSource();
}

/// <summary>
/// <see cref="IClusterFacts"/> of the running operator's informers, feed, access problems and node liveness. The
/// route plan and the pod-network findings are kept between reconciles and redone only after the events that can
/// change them (<see cref="NodesChanged"/>, slice events), so a reconcile does not cost what the cluster's size does.
/// </summary>
internal sealed class OperatorFacts : IClusterFacts
{
    private readonly Informer<V1Node> nodes;
    private readonly ZoneFeed feed;
    private readonly AccessProblems access;
    private readonly NodeLivenessLoop liveness;
    private readonly PodNetworkWatch podNetwork;
    private int nodesVersion;
    private PlanOf? routes;

    private sealed record PlanOf(int NodesVersion, RoutePlan Plan);

    public OperatorFacts(Informer<V1Node> nodes, Informer<SliceView> slices, ZoneFeed feed, AccessProblems access, NodeLivenessLoop liveness)
    {
        (this.nodes, this.feed, this.access, this.liveness) = (nodes, feed, access, liveness);
        podNetwork = new PodNetworkWatch(() => slices.Items, () => nodes.Items);
        slices.Subscribe(podNetwork.Observe);
    }

    /// <summary>A Node was added or deleted, or its podCIDRs, addresses or conditions changed.</summary>
    public void NodesChanged()
    {
        Interlocked.Increment(ref nodesVersion);
        podNetwork.NodesChanged();
    }

    public RoutePlan Routes
    {
        get
        {
            // The informer updates its cache before it tells subscribers, so a plan made from the Nodes read after
            // this version holds at least that version's changes; a change during the read makes the next one redo it.
            var version = Volatile.Read(ref nodesVersion);
            if (Volatile.Read(ref routes) is { } kept && kept.NodesVersion == version)
                return kept.Plan;
            var plan = RoutePlan.FromNodes(nodes.Items);
            Volatile.Write(ref routes, new PlanOf(version, plan));
            return plan;
        }
    }

    public IReadOnlyList<StrayPodAddress> StrayPodAddresses => podNetwork.Findings;
    public ServedCounts Served => feed.Counts();
    public string? Forbidden => access.Summary();
    public LivenessSettings? Liveness => liveness.Settings is { Enabled: true } on ? on : null;
    public IReadOnlyDictionary<string, NodeState> NodeStates => liveness.Settings.Enabled ? liveness.States() : NotProbed;

    private static readonly Dictionary<string, NodeState> NotProbed = [];
}
