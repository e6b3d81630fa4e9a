using System.Collections.Concurrent;
using System.Net;
using k8s;
using k8s.Models;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Liveness;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Tests.Controllers.Rules;

/// <summary>The configuration in force, as a test sets it.</summary>
internal sealed class FakeConfigInForce : IConfigInForce
{
    public string ConfigName { get; set; } = MiniLbConfig.DefaultName;
    public IReadOnlyList<GivenFlag> Flags { get; set; } = [];
    public AppliedConfig? Current { get; set; }
    public ConfigProblem? Problem { get; set; }
    public List<string> Applied { get; } = [];
    public IEnumerable<string> Domains => Applied;
    public IReadOnlyList<IPEndPoint> DnsEndPoints { get; set; } = [];
    public string Source { get; set; } = "the defaults in force (no MiniLbConfig 'default')";
    public string DescribeSource() => Source;

    /// <summary>A configuration applied: its domain remembered, DNS listening (built directly, not read by LiveConfig's rules, which have their own tests).</summary>
    public FakeConfigInForce Apply(string domain = ZoneSettings.DefaultDomain, string? source = MiniLbConfig.DefaultName, long? generation = 1)
    {
        var listen = IPEndPoint.Parse("127.0.0.1:5353");
        Current = new AppliedConfig(source, generation, new ZoneSettings { Domain = domain }, new ListenAddress(listen.ToString(), [listen]))
        {
            Spec = new MiniLbConfigSpec { Domain = domain },
        };
        Applied.Add(domain);
        DnsEndPoints = [listen];
        return this;
    }
}

/// <summary>The caches and running parts the MiniLbConfig controller reads.</summary>
internal sealed class FakeClusterFacts : IClusterFacts
{
    public List<V1Node> NodeList { get; } = [];
    public List<SliceView> SliceList { get; } = [];
    public RoutePlan Routes => RoutePlan.FromNodes(NodeList);
    public IReadOnlyList<StrayPodAddress> StrayPodAddresses => PodNetworkPreflight.Check(SliceList, NodeList);
    public ServedCounts Served { get; set; } = new(0, 0);
    public string? Forbidden { get; set; }
    public LivenessSettings? Liveness { get; set; }
    public Dictionary<string, NodeState> States { get; } = new(StringComparer.Ordinal);
    public IReadOnlyDictionary<string, NodeState> NodeStates => States;
}

/// <summary>Statuses as the API server would hold them after the controller's patches; only a change counts as a write.</summary>
internal sealed class FakeStatusPatches : IStatusPatches
{
    public Dictionary<string, string[]> Ingress { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, MiniLbConfigStatus> Configs { get; } = new(StringComparer.Ordinal);
    public int Writes { get; private set; }

    public Task<bool> SetIngressAsync(ServiceView service, IReadOnlyCollection<LoadBalancerIngressJson> ingress, CancellationToken ct)
    {
        var written = ingress.Select(i => i.Hostname ?? i.Ip ?? "").ToArray();
        var before = service.Ingress.Select(i => i.Hostname ?? i.Ip ?? "");
        if (before.SequenceEqual(written))
            return Task.FromResult(false);
        Ingress[service.Key] = written;
        Writes++;
        return Task.FromResult(true);
    }

    public Task<bool> SetStatusAsync(MiniLbConfig config, MiniLbConfigStatus status, CancellationToken ct)
    {
        Configs[config.Metadata.Name] = status;
        Writes++;
        return Task.FromResult(true);
    }
}

/// <summary>
/// What a controller told the publisher: occurrences, and the problems it says hold now (the publisher, tested on
/// its own in EventPublisherTests, decides what of that becomes an Event).
/// </summary>
internal sealed class RecordedEvents : IEventPublisher
{
    public ConcurrentQueue<(string Object, EventType Type, string Reason, string Message)> Published { get; } = new();
    public ConcurrentDictionary<(string Object, string Reason), string> Problems { get; } = new();
    public List<string> Forgotten { get; } = [];

    public Task PublishAsync(IKubernetesObject<V1ObjectMeta> regarding, EventType type, string reason, string message, CancellationToken ct)
    {
        Published.Enqueue((regarding.Metadata.Name, type, reason, message));
        return Task.CompletedTask;
    }

    public Task ReportProblemAsync(IKubernetesObject<V1ObjectMeta> regarding, string reason, string? problem, CancellationToken ct)
    {
        if (problem is null)
            Problems.TryRemove((regarding.Metadata.Name, reason), out _);
        else
            Problems[(regarding.Metadata.Name, reason)] = problem;
        return Task.CompletedTask;
    }

    public void Forget(IKubernetesObject<V1ObjectMeta> regarding) => Forgotten.Add(regarding.Metadata.Name);

    public string? ProblemOf(string name, string reason) => Problems.GetValueOrDefault((name, reason));
}
