using System.Text;
using k8s;
using k8s.Models;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>Two replicas: both answer DNS, only the leader writes, and the lead moves when the leader goes away.</summary>
public sealed class HighAvailabilityTests : OperatorFixture
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(3);

    // Without a MiniLbConfig each replica listens on its own defaults, as pods on different IPs would.
    private static OperatorOptions Replica(string identity) => new()
    {
        Lease = new LeaseLeadershipOptions
        {
            Namespace = "default",
            Identity = identity,
            LeaseDuration = LeaseDuration,
            RenewDeadline = TimeSpan.FromSeconds(2),
            RetryPeriod = TimeSpan.FromMilliseconds(300),
        },
    };

    private async Task<(LoadBalancerOperator Leader, LoadBalancerOperator Follower)> LeaderAndFollowerAsync(LoadBalancerOperator a, LoadBalancerOperator b)
    {
        await WaitUntilAsync(() => Task.FromResult(a.Leadership.IsLeader ^ b.Leadership.IsLeader), "exactly one leader");
        return a.Leadership.IsLeader ? (a, b) : (b, a);
    }

    /// <summary>The replica's DNS server answers web's one address; false until it has started, which may follow the sync.</summary>
    private async Task<bool> AnswersWebAsync(LoadBalancerOperator replica) =>
        replica.Config.Host is { } host && await AddressesAsync(host.EndPoints[0].Port, "web.default.minilb") is ["10.244.0.5"];

    [Test]
    public async Task Only_the_leader_writes_and_both_answer_DNS()
    {
        var a = await StartOperatorAsync(Replica("replica-a"));
        var b = await StartOperatorAsync(Replica("replica-b"));
        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        await CreateServiceAsync("default", "web", "minilb", new k8s.Models.V1ServicePort { Name = "http", Port = 80, TargetPort = 8080 });
        await SetEndpointsAsync("default", "web", "10.244.0.5");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");
        await WaitUntilAsync(async () => await AnswersWebAsync(a) && await AnswersWebAsync(b), "both replicas answer");
        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "PortDiffersFromTargetPort"), "the port warning");
        var writers = (await EventsAsync()).Select(e => e.ReportingInstance).Distinct().ToList();
        Assert.That(writers, Is.EqualTo(new[] { ((LeaseLeadership)leader.Leadership).Identity }), "events come from the leader only");
        Assert.That(follower.Leadership.IsLeader, Is.False);
    }

    [Test]
    public async Task Stopping_the_leader_hands_over_and_DNS_keeps_answering()
    {
        var a = await StartOperatorAsync(Replica("replica-a"));
        var b = await StartOperatorAsync(Replica("replica-b"));
        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(() => AnswersWebAsync(follower), "the follower answers");

        await StopOperatorAsync(leader);
        var stopped = DateTime.UtcNow;
        await WaitUntilAsync(() => Task.FromResult(follower.Leadership.IsLeader), "the follower takes the lead", LeaseDuration + TimeSpan.FromSeconds(5));
        TestContext.Out.WriteLine($"handover after a clean stop: {(DateTime.UtcNow - stopped).TotalMilliseconds:0} ms");
        Assert.That(await AddressesAsync(DnsPort(follower), "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }));

        await CreateServiceAsync("default", "api");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "api") == "api.default.minilb", "the new leader writes");
    }

    [Test]
    public async Task A_leader_cut_off_from_the_API_server_loses_the_lead_within_the_lease_duration_and_still_answers_DNS()
    {
        var linkA = new ApiLink();
        var linkB = new ApiLink();
        var a = await StartOperatorAsync(Replica("replica-a"), linkA);
        var b = await StartOperatorAsync(Replica("replica-b"), linkB);
        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await AnswersWebAsync(leader) && await AnswersWebAsync(follower), "both answer");

        // As a crashed or partitioned pod looks to the cluster: no renewals, no release.
        (leader == a ? linkA : linkB).Cut = true;
        Server.CloseWatches();
        var cut = DateTime.UtcNow;
        await WaitUntilAsync(() => Task.FromResult(follower.Leadership.IsLeader), "the follower takes the lead", LeaseDuration * 2 + TimeSpan.FromSeconds(5));
        var handover = DateTime.UtcNow - cut;
        TestContext.Out.WriteLine($"handover after the leader was cut off: {handover.TotalMilliseconds:0} ms");
        await WaitUntilAsync(() => Task.FromResult(!leader.Leadership.IsLeader), "the old leader steps down");

        await CreateServiceAsync("default", "api");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "api") == "api.default.minilb", "the new leader writes");
        Assert.That(await AddressesAsync(DnsPort(leader), "web.default.minilb"), Is.EqualTo(new[] { "10.244.0.5" }), "the cut-off replica answers from its cache");
        Assert.That(handover, Is.LessThan(LeaseDuration + TimeSpan.FromSeconds(3)));
    }

    [Test]
    public async Task A_leader_killed_mid_write_leaves_no_stale_status_and_the_next_leader_finishes_the_work()
    {
        await CreateConfigAsync(domain: "one");
        var linkA = new ApiLink();
        var linkB = new ApiLink();
        var a = await StartOperatorAsync(Replica("replica-a"), linkA);
        var b = await StartOperatorAsync(Replica("replica-b"), linkB);
        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        foreach (var name in new[] { "web", "api", "old" })
            await CreateServiceAsync("default", name);
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.one"
            && await HostnameOfAsync("default", "api") == "api.default.one"
            && await HostnameOfAsync("default", "old") == "old.default.one", "the first domain's hostnames are written");

        // A new domain: the leader's status PATCHes reach the API server and stay there, unanswered and not applied.
        Server.Faults.Hold(r => r.Method == "PATCH" && r.Path.Value!.EndsWith("/status", StringComparison.Ordinal));
        await EditConfigAsync("""{"domain":"two"}""");
        await WaitUntilAsync(() => Task.FromResult(Server.Faults.Held.Count >= 2), "status writes for the new domain are in flight");

        // The leader dies mid-write: its connections drop, its lease is not given back and must expire.
        (leader == a ? linkA : linkB).Crash();
        var killed = DateTime.UtcNow;
        await StopOperatorAsync(leader);
        Server.Faults.StopHolding();

        // Meanwhile the cluster moves on.
        await DeleteServiceAsync("default", "old");
        await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"type":"ClusterIP","loadBalancerClass":null}}""", V1Patch.PatchType.MergePatch), "api", "default");
        await CreateServiceAsync("default", "new");
        await EditConfigAsync("""{"domain":"three"}""");

        await WaitUntilAsync(() => Task.FromResult(follower.Leadership.IsLeader), "the follower takes the lead once the lease expires", LeaseDuration * 2 + TimeSpan.FromSeconds(5));
        TestContext.Out.WriteLine($"handover after the leader was killed: {(DateTime.UtcNow - killed).TotalMilliseconds:0} ms");
        await WaitForTruthAsync("every status matches the cluster as it is now");

        var held = Server.Faults.Held;
        TestContext.Out.WriteLine($"{held.Count} status writes were in flight when the leader died: {string.Join(", ", held.Select(h => h.Path))}");
        Assert.That(held.Where(h => !h.Abandoned).Select(h => h.Path), Is.Empty, "no write of the dead leader landed");

        // A real API server may still apply a write whose client has died. The stale writes land now, late:
        // the leader puts the truth back.
        using var http = new HttpClient { BaseAddress = Server.Uri };
        foreach (var stale in held)
        {
            using var body = new StringContent(stale.Body, Encoding.UTF8, "application/merge-patch+json");
            using var landed = await http.PatchAsync(stale.Path, body);
            TestContext.Out.WriteLine($"stale {stale.Path}: {(int)landed.StatusCode}");
        }
        await WaitForTruthAsync("the leader corrects the stale writes that landed late");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.That(await CurrentTruthAsync(), Is.True, $"and the statuses stay right; seen {lastSeen}");
    }

    /// <summary>The hostnames and MiniLbConfig status the mid-write test's cluster should show at the end.</summary>
    private const string Truth = "web=web.default.three new=new.default.three api=(none) config: observed current, Ready=True, 2 Services";

    private string lastSeen = "";

    private async Task WaitForTruthAsync(string what)
    {
        var deadline = DateTime.UtcNow + Eventually;
        while (!await CurrentTruthAsync())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"not within {Eventually.TotalSeconds:0} s: {what}\n want {Truth}\n have {lastSeen}");
            await Task.Delay(50);
        }
    }

    private async Task<bool> CurrentTruthAsync()
    {
        var config = await ReadConfigAsync();
        lastSeen = $"web={await HostnameOfAsync("default", "web") ?? "(none)"} new={await HostnameOfAsync("default", "new") ?? "(none)"} "
            + $"api={await HostnameOfAsync("default", "api") ?? "(none)"} config: observed "
            + (config.Status?.ObservedGeneration == config.Metadata.Generation ? "current" : $"{config.Status?.ObservedGeneration} of {config.Metadata.Generation}")
            + $", Ready={ConditionOf(config, "Ready")?.Status}, {config.Status?.ServedServices} Services";
        return lastSeen == Truth;
    }
}
