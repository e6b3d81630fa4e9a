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

    [Test]
    public async Task Only_the_leader_writes_and_both_answer_DNS()
    {
        var a = await StartOperatorAsync(Replica("replica-a"));
        var b = await StartOperatorAsync(Replica("replica-b"));
        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        await CreateServiceAsync("default", "web", "minilb", new k8s.Models.V1ServicePort { Name = "http", Port = 80, TargetPort = 8080 });
        await SetEndpointsAsync("default", "web", "10.244.0.5");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");
        await WaitUntilAsync(async () => await AddressesAsync(DnsPort(a), "web.default.minilb") is ["10.244.0.5"]
            && await AddressesAsync(DnsPort(b), "web.default.minilb") is ["10.244.0.5"], "both replicas answer");
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
        await WaitUntilAsync(async () => await AddressesAsync(DnsPort(follower), "web.default.minilb") is ["10.244.0.5"], "the follower answers");

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
        await WaitUntilAsync(async () => await AddressesAsync(DnsPort(leader), "web.default.minilb") is ["10.244.0.5"]
            && await AddressesAsync(DnsPort(follower), "web.default.minilb") is ["10.244.0.5"], "both answer");

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
}
