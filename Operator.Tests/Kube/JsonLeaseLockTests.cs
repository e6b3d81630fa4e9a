using k8s;
using k8s.LeaderElection;
using k8s.Models;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>The Lease the elector competes over, against the test API server: what others read, what others wrote.</summary>
public sealed class JsonLeaseLockTests : ApiServerFixture
{
    private static readonly DateTime Acquired = new(2026, 12, 5, 10, 0, 0, 123, 456, DateTimeKind.Utc);

    private JsonLeaseLock Lock(string identity = "replica-1") => new(Client, "default", "minilb-leader", identity);

    private static LeaderElectionRecord Held(string holder, DateTime renewed, int transitions = 0) => new()
    {
        HolderIdentity = holder,
        LeaseDurationSeconds = 15,
        AcquireTime = Acquired,
        RenewTime = renewed,
        LeaderTransitions = transitions,
    };

    [Test]
    public async Task The_Lease_it_writes_reads_back_in_kubectl_as_the_elector_wrote_it()
    {
        var lease = Lock();
        Assert.That(await lease.CreateAsync(Held("replica-1", Acquired)), Is.True);
        Assert.That(await lease.UpdateAsync(Held("replica-1", Acquired.AddSeconds(5), transitions: 2)), Is.True);

        var written = await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", "default");
        Assert.That(written.Spec.HolderIdentity, Is.EqualTo("replica-1"));
        Assert.That(written.Spec.LeaseDurationSeconds, Is.EqualTo(15));
        Assert.That(written.Spec.AcquireTime, Is.EqualTo(Acquired), "to the microsecond, as MicroTime");
        Assert.That(written.Spec.RenewTime, Is.EqualTo(Acquired.AddSeconds(5)));
        Assert.That(written.Spec.LeaseTransitions, Is.EqualTo(2));

        var fresh = await Lock("replica-2").GetAsync();
        Assert.That(fresh.HolderIdentity, Is.EqualTo("replica-1"));
        Assert.That(fresh.RenewTime, Is.EqualTo(Acquired.AddSeconds(5)));
    }

    [Test]
    public async Task A_second_replica_cannot_create_the_Lease_the_first_created()
    {
        Assert.That(await Lock("replica-1").CreateAsync(Held("replica-1", Acquired)), Is.True);
        Assert.That(await Lock("replica-2").CreateAsync(Held("replica-2", Acquired)), Is.False);
        Assert.That((await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", "default")).Spec.HolderIdentity, Is.EqualTo("replica-1"));
    }

    [Test]
    public async Task A_missing_Lease_is_the_404_the_elector_creates_it_after()
    {
        var error = Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => Lock().GetAsync());
        Assert.That((int)error!.Response.StatusCode, Is.EqualTo(404));
        await Task.CompletedTask;
    }

    [Test]
    public async Task A_change_by_someone_else_refuses_the_renewal_and_what_they_wrote_survives_the_next_one()
    {
        var lease = Lock();
        Assert.That(await lease.CreateAsync(Held("replica-1", Acquired)), Is.True);
        // A policy tool labels the Lease: its resourceVersion moves on.
        await Client.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch("""{"metadata":{"labels":{"team":"net"}}}""", V1Patch.PatchType.MergePatch),
            "minilb-leader", "default");

        Assert.That(await lease.UpdateAsync(Held("replica-1", Acquired.AddSeconds(5))), Is.False, "the renewal's resourceVersion is stale");
        Assert.That((await lease.GetAsync()).RenewTime, Is.EqualTo(Acquired), "after a refusal, the Lease is read again");
        Assert.That(await lease.UpdateAsync(Held("replica-1", Acquired.AddSeconds(10))), Is.True);

        var written = await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", "default");
        Assert.That(written.Spec.RenewTime, Is.EqualTo(Acquired.AddSeconds(10)));
        Assert.That(written.Metadata.Labels, Does.ContainKey("team"), "a renewal patches the spec; it does not replace the object");
    }

    [Test]
    public async Task While_it_holds_the_Lease_a_read_costs_no_request()
    {
        var lease = Lock();
        Assert.That(await lease.CreateAsync(Held("replica-1", Acquired)), Is.True);
        await Client.CoordinationV1.DeleteNamespacedLeaseAsync("minilb-leader", "default");

        Assert.That((await lease.GetAsync()).HolderIdentity, Is.EqualTo("replica-1"), "answered from its own last write");
        var refused = Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => lease.UpdateAsync(Held("replica-1", Acquired.AddSeconds(5))),
            "the renewal still goes to the server, which no longer has the Lease");
        Assert.That((int)refused!.Response.StatusCode, Is.EqualTo(404));
        Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => lease.GetAsync(), "after a failed write, reads go to the server again");
    }
}
