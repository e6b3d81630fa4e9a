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
    private int conflicts;
    private volatile bool unanswered;

    [SetUp]
    public async Task Start()
    {
        server = await StartAsync();
        lease = null;
        conflicts = 0;
        unanswered = false;
        // Enough of the Lease API for leader election: read, create (refused when the Lease exists), and a merge patch
        // (refused, as the API server does, when it carries another resourceVersion than the Lease's).
        server.Always(r => r.Method == "GET" && r.Path == $"{Leases}/minilb-leader", (context, request) =>
        {
            lock (this)
                return lease is null ? Status(404, "NotFound")(context, request) : Json(lease.ToJsonString())(context, request);
        });
        server.Always(r => r.Method == "POST" && r.Path == Leases, (context, request) =>
        {
            lock (this)
            {
                if (lease is not null)
                    return Status(409, "AlreadyExists")(context, request);
                lease = JsonNode.Parse(request.Body)!.AsObject();
                lease["metadata"]!["resourceVersion"] = (++version).ToString();
                return Json(lease.ToJsonString(), 201)(context, request);
            }
        });
        server.Always(r => r.Method == "PATCH" && r.Path == $"{Leases}/minilb-leader", (context, request) =>
        {
            if (unanswered)
                return Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            lock (this)
            {
                Assert.That(request.ContentType, Does.StartWith("application/merge-patch+json"));
                var patch = JsonNode.Parse(request.Body)!.AsObject();
                if (lease is null)
                    return Status(404, "NotFound")(context, request);
                if (patch["metadata"]?["resourceVersion"] is { } given && (string?)given != version.ToString())
                {
                    conflicts++;
                    return Status(409, "Conflict")(context, request);
                }
                foreach (var (field, value) in patch["spec"]!.AsObject())
                    lease["spec"]![field] = value?.DeepClone();
                lease["metadata"]!["resourceVersion"] = (++version).ToString();
                return Json(lease.ToJsonString())(context, request);
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
        Assert.That(server.Requests.Last().Method, Is.EqualTo("PATCH"), "released with a patch of the Lease");
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

    [Test]
    public async Task The_leader_renews_with_one_request_a_renewal()
    {
        await using var first = await LeadingAsync("replica-1");
        var reads = server.Requests.Count(r => r.Method == "GET");
        await WaitUntil(() => server.Requests.Count(r => r.Method == "PATCH") >= 5);

        Assert.That(server.Requests.Count(r => r.Method == "GET"), Is.EqualTo(reads), "renewed without reading the Lease first");
        Assert.That(first.Elector.IsLeader, Is.True);
        Assert.That((string?)Lease()["spec"]!["holderIdentity"], Is.EqualTo("replica-1"));
    }

    [Test]
    public async Task A_leader_whose_lease_was_taken_behind_its_back_reads_it_again_and_stops_leading()
    {
        await using var first = await LeadingAsync("replica-1");

        lock (this)
        {
            // Someone else holds the Lease now, for a long time (as after this replica was cut off from the API server).
            lease!["spec"]!["holderIdentity"] = "replica-2";
            lease["spec"]!["leaseDurationSeconds"] = 3600;
            lease["spec"]!["renewTime"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ");
            lease["metadata"]!["resourceVersion"] = (++version).ToString();
        }
        await WaitUntil(() => !first.Elector.IsLeader);

        Assert.That(Volatile.Read(ref conflicts), Is.GreaterThan(0), "its renewal was refused");
        Assert.That((string?)Lease()["spec"]!["holderIdentity"], Is.EqualTo("replica-2"), "and did not overwrite the new holder");
    }

    [Test]
    public async Task A_leader_whose_renewals_go_unanswered_stops_leading_at_the_renew_deadline_before_its_lease_lapses()
    {
        var time = new RecordingTimeProvider();
        var options = new LeaseLeadershipOptions { Namespace = "minilb", Identity = "replica-1" };
        var elector = new LeaseLeadership(server.Client(), options, new CapturingLogger<LeaseLeadership>(), time);
        using var stop = new CancellationTokenSource();
        var run = elector.RunAsync(stop.Token);
        await WaitUntil(() => elector.IsLeader);
        var acquired = time.GetUtcNow();
        await time.NextTimerAsync(t => t == options.RetryPeriod);

        unanswered = true; // the API server takes the renewals in and never answers
        time.Advance(options.RetryPeriod);
        await WaitUntil(() => server.Requests.Any(r => r.Method == "PATCH"));
        time.Advance(options.RenewDeadline - options.RetryPeriod - TimeSpan.FromSeconds(1));
        await Task.Delay(200);
        Assert.That(elector.IsLeader, Is.True, "within the renew deadline it still leads");

        time.Advance(TimeSpan.FromSeconds(1));
        // At once, on the fake clock: the unanswered request has no other timeout that could end it.
        await WaitUntil(() => !elector.IsLeader, within: TimeSpan.FromSeconds(3));
        Assert.That(time.GetUtcNow() - acquired, Is.EqualTo(options.RenewDeadline));
        Assert.That(options.RenewDeadline, Is.LessThan(options.LeaseDuration), "it stopped before another replica may take the lease");

        unanswered = false;
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Test]
    public async Task A_renewal_refused_because_someone_else_edited_the_Lease_is_retried_at_once_and_the_leader_keeps_leading()
    {
        await using var first = await LeadingAsync("replica-1");
        var changes = new List<bool>();
        first.Elector.Changed += changes.Add;
        lock (this)
        {
            // A label from a policy tool: the Lease's resourceVersion moves on, its holder does not change.
            lease!["metadata"]!["labels"] = new JsonObject { ["team"] = "net" };
            lease["metadata"]!["resourceVersion"] = (++version).ToString();
        }
        var patches = server.Requests.Count(r => r.Method == "PATCH");
        await WaitUntil(() => server.Requests.Count(r => r.Method == "PATCH") >= patches + 3);

        Assert.That(Volatile.Read(ref conflicts), Is.EqualTo(1), "the one stale renewal");
        Assert.That(changes, Is.Empty, "it never stopped leading");
        Assert.That((string?)Lease()["metadata"]!["labels"]!["team"], Is.EqualTo("net"));
    }

    /// <summary>A replica competing for the lease, once it leads; disposing it stops it.</summary>
    private async Task<Running> LeadingAsync(string identity)
    {
        var elector = Elector(identity);
        var stop = new CancellationTokenSource();
        var running = new Running(elector, stop, elector.RunAsync(stop.Token));
        await WaitUntil(() => elector.IsLeader);
        return running;
    }

    private sealed record Running(LeaseLeadership Elector, CancellationTokenSource Stop, Task Run) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            await Run;
            Stop.Dispose();
        }
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

    private static async Task WaitUntil(Func<bool> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out");
            await Task.Delay(20);
        }
    }
}
