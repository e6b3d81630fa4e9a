using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using MiniLb.Operator.Kube;
using static MiniLb.Operator.Tests.Kube.ScriptedApiServer;

namespace MiniLb.Operator.Tests.Kube;

public sealed class LeaseLeadershipTests
{
    private const string Leases = "/apis/coordination.k8s.io/v1/namespaces/minilb/leases";
    private ScriptedApiServer server = null!;
    private JsonObject? lease;
    private int version;

    [SetUp]
    public async Task Start()
    {
        server = await StartAsync();
        lease = null;
        // Enough of the Lease API for KubernetesClient's LeaseLock: read, create, replace.
        server.Always(r => r.Method == "GET" && r.Path == $"{Leases}/minilb-leader", (context, request) =>
        {
            lock (this)
                return lease is null ? Status(404, "NotFound")(context, request) : Json(lease.ToJsonString())(context, request);
        });
        server.Always(r => r.Method is "POST" or "PUT", (context, request) =>
        {
            lock (this)
            {
                lease = JsonNode.Parse(request.Body)!.AsObject();
                lease["metadata"]!["resourceVersion"] = (++version).ToString();
                return Json(lease.ToJsonString(), request.Method == "POST" ? 201 : 200)(context, request);
            }
        });
    }

    [TearDown]
    public async Task Stop() => await server.DisposeAsync();

    [Test]
    public async Task The_leader_gives_the_lease_back_on_a_clean_shutdown()
    {
        var changes = new List<bool>();
        var first = Elector("replica-1");
        var leading = new TaskCompletionSource();
        first.Changed += leader =>
        {
            lock (changes)
                changes.Add(leader);
            if (leader)
                leading.TrySetResult();
        };
        using var stop = new CancellationTokenSource();
        var run = first.RunAsync(stop.Token);
        await leading.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(first.IsLeader, Is.True);
        Assert.That((string?)Lease()["spec"]!["holderIdentity"], Is.EqualTo("replica-1"));

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(first.IsLeader, Is.False);
        Assert.That(changes, Is.EqualTo(new[] { true, false }));
        Assert.That((string?)Lease()["spec"]!["holderIdentity"], Is.Empty);
        Assert.That((int?)Lease()["spec"]!["leaseDurationSeconds"], Is.EqualTo(1));
        Assert.That(server.Requests.Last().Method, Is.EqualTo("PUT"), "released with an update of the Lease");
    }

    [Test]
    public async Task A_successor_takes_over_at_once_instead_of_waiting_out_the_lease()
    {
        var first = Elector("replica-1");
        using var stopFirst = new CancellationTokenSource();
        var firstRun = first.RunAsync(stopFirst.Token);
        await WaitUntil(() => first.IsLeader);
        var second = Elector("replica-2");
        using var stopSecond = new CancellationTokenSource();
        var secondRun = second.RunAsync(stopSecond.Token);
        await WaitUntil(() => server.Requests.Count(r => r.Method == "GET") >= 4);
        Assert.That(second.IsLeader, Is.False, "the lease is held");

        var handover = System.Diagnostics.Stopwatch.StartNew();
        await stopFirst.CancelAsync();
        await firstRun;
        await WaitUntil(() => second.IsLeader);

        Assert.That(handover.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "well within the 15 s lease");
        Assert.That((string?)Lease()["spec"]!["holderIdentity"], Is.EqualTo("replica-2"));
        await stopSecond.CancelAsync();
        await secondRun;
    }

    private LeaseLeadership Elector(string identity) => new(server.Client(), new LeaseLeadershipOptions
    {
        Namespace = "minilb",
        Identity = identity,
        RetryPeriod = TimeSpan.FromMilliseconds(100),
    }, new CapturingLogger<LeaseLeadership>());

    private JsonObject Lease()
    {
        lock (this)
            return lease!;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out");
            await Task.Delay(20);
        }
    }
}
