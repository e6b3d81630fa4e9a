using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

public sealed class ControllerRunnerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private RecordingTimeProvider time = null!;
    private CancellationTokenSource stop = null!;
    private Channel<(WatchEventType, V1Node)> watch = null!;
    private ScriptedController controller = null!;
    private TestLeadership leadership = null!;
    private Task running = Task.CompletedTask;
    private Informer<V1Node> informer = null!;

    [SetUp]
    public void Create()
    {
        time = new RecordingTimeProvider();
        stop = new CancellationTokenSource();
        watch = Channel.CreateUnbounded<(WatchEventType, V1Node)>();
        controller = new ScriptedController();
        leadership = new TestLeadership { IsLeader = true };
        running = Task.CompletedTask;
    }

    [TearDown]
    public async Task Stop()
    {
        await stop.CancelAsync();
        await running.WaitAsync(Wait);
        stop.Dispose();
    }

    [Test]
    public async Task Every_listed_object_is_reconciled_and_a_change_reconciles_it_again()
    {
        Start(Node("a", "1"), Node("b", "2"));
        Assert.That(new[] { await controller.NextCallAsync(), await controller.NextCallAsync() },
            Is.EquivalentTo(new[] { "reconcile a@1", "reconcile b@2" }));

        await watch.Writer.WriteAsync((WatchEventType.Modified, Node("a", "3")));
        Assert.That(await controller.NextCallAsync(), Is.EqualTo("reconcile a@3"), "the controller reads the newest cached state");
    }

    [Test]
    public async Task A_deleted_object_is_reported_with_its_last_known_state()
    {
        Start(Node("a", "1"));
        await controller.NextCallAsync();

        await watch.Writer.WriteAsync((WatchEventType.Deleted, Node("a", "2")));
        Assert.That(await controller.NextCallAsync(), Is.EqualTo("deleted a@1"));
    }

    [Test]
    public async Task A_failure_is_retried_with_growing_delays_and_a_success_resets_them()
    {
        controller.Results.Enqueue(ReconciliationResult.Failure("API down"));
        controller.Results.Enqueue(ReconciliationResult.Failure("API down"));
        controller.Throw.Enqueue(new InvalidOperationException("bug"));
        Start(Node("a", "1"));

        await controller.NextCallAsync();
        Assert.That(await time.NextTimerAsync(), Is.EqualTo(TimeSpan.FromSeconds(1)));
        time.Advance(TimeSpan.FromSeconds(1));
        await controller.NextCallAsync();
        Assert.That(await time.NextTimerAsync(), Is.EqualTo(TimeSpan.FromSeconds(2)));
        time.Advance(TimeSpan.FromSeconds(2));
        await controller.NextCallAsync();
        Assert.That(await time.NextTimerAsync(), Is.EqualTo(TimeSpan.FromSeconds(4)), "an exception counts as a failure");
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.That(await controller.NextCallAsync(), Is.EqualTo("reconcile a@1"));

        controller.Results.Enqueue(ReconciliationResult.Failure("again"));
        await watch.Writer.WriteAsync((WatchEventType.Modified, Node("a", "2")));
        await controller.NextCallAsync();
        Assert.That(await time.NextTimerAsync(), Is.EqualTo(TimeSpan.FromSeconds(1)), "the success forgot the earlier failures");
    }

    [Test]
    public async Task Success_with_requeueAfter_reconciles_again_after_that_long()
    {
        controller.Results.Enqueue(ReconciliationResult.Success(TimeSpan.FromMinutes(5)));
        Start(Node("a", "1"));
        await controller.NextCallAsync();

        Assert.That(await time.NextTimerAsync(), Is.EqualTo(TimeSpan.FromMinutes(5)));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.That(await controller.NextCallAsync(), Is.EqualTo("reconcile a@1"));
    }

    [Test]
    public async Task Only_the_leader_reconciles_and_a_new_leader_reconciles_everything()
    {
        leadership.IsLeader = false;
        Start(Node("a", "1"), Node("b", "2"));
        await watch.Writer.WriteAsync((WatchEventType.Modified, Node("a", "3")));
        while (informer.Get("a")?.Metadata.ResourceVersion != "3")
            await Task.Delay(10);
        Assert.That(controller.Calls, Is.Empty);

        leadership.Become(true);
        Assert.That(new[] { await controller.NextCallAsync(), await controller.NextCallAsync() },
            Is.EquivalentTo(new[] { "reconcile a@3", "reconcile b@2" }));
    }

    [Test]
    public async Task The_same_object_is_never_reconciled_twice_at_once()
    {
        var gate = new TaskCompletionSource();
        controller.Gate = gate.Task;
        Start(new ControllerOptions { Parallelism = 4 }, Node("a", "1"));
        await controller.NextCallAsync();

        await watch.Writer.WriteAsync((WatchEventType.Modified, Node("a", "2")));
        await watch.Writer.WriteAsync((WatchEventType.Modified, Node("a", "3")));
        await Task.Delay(200);
        Assert.That(controller.Calls, Has.Count.EqualTo(1), "the changes wait for the running reconcile");
        Assert.That(controller.MaxConcurrent, Is.EqualTo(1));

        gate.SetResult();
        Assert.That(await controller.NextCallAsync(), Is.EqualTo("reconcile a@3"), "the two changes fold into one reconcile of the newest state");
    }

    [Test]
    public async Task No_more_objects_are_reconciled_at_once_than_the_parallelism_allows()
    {
        var gate = new TaskCompletionSource();
        controller.Gate = gate.Task;
        Start(new ControllerOptions { Parallelism = 2 }, Node("a", "1"), Node("b", "1"), Node("c", "1"), Node("d", "1"));

        await controller.NextCallAsync();
        await controller.NextCallAsync();
        await Task.Delay(200);
        Assert.That(controller.Calls, Has.Count.EqualTo(2), "two workers, both busy");

        gate.SetResult();
        await controller.NextCallAsync();
        await controller.NextCallAsync();
        Assert.That(controller.MaxConcurrent, Is.EqualTo(2));
    }

    private void Start(params V1Node[] nodes) => Start(new ControllerOptions(), nodes);

    private void Start(ControllerOptions options, params V1Node[] nodes)
    {
        var source = new ListWatch<V1Node>
        {
            Kind = Kinds.Node,
            List = (_, _, _) => Task.FromResult(new ListPage<V1Node>(nodes, "1", null)),
            Watch = (_, _, _, ct) => Events(ct),
        };
        informer = new Informer<V1Node>(source, new CapturingLogger<Informer<V1Node>>(), TimeProvider.System, new InformerOptions { Random = () => 0 });
        var runner = new ControllerRunner<V1Node>(informer, controller, leadership, new CapturingLogger<ControllerRunner<V1Node>>(), time, options);
        running = Task.WhenAll(informer.RunAsync(stop.Token), runner.RunAsync(stop.Token));
    }

    private async IAsyncEnumerable<(WatchEventType, V1Node)> Events([EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var change in watch.Reader.ReadAllAsync(ct))
            yield return change;
    }

    private static V1Node Node(string name, string version) => new() { Metadata = new V1ObjectMeta { Name = name, ResourceVersion = version } };

    private sealed class ScriptedController : IEntityController<V1Node>
    {
        private readonly Channel<string> calls = Channel.CreateUnbounded<string>();
        private int concurrent;
        public ConcurrentQueue<string> Calls { get; } = new();
        public ConcurrentQueue<ReconciliationResult> Results { get; } = new();
        public ConcurrentQueue<Exception> Throw { get; } = new();
        public Task Gate { get; set; } = Task.CompletedTask;
        public int MaxConcurrent { get; private set; }

        public Task<ReconciliationResult> ReconcileAsync(V1Node entity, CancellationToken ct) => RecordAsync($"reconcile {entity.Metadata.Name}@{entity.Metadata.ResourceVersion}");

        public Task<ReconciliationResult> DeletedAsync(V1Node entity, CancellationToken ct) => RecordAsync($"deleted {entity.Metadata.Name}@{entity.Metadata.ResourceVersion}");

        public async Task<string> NextCallAsync()
        {
            using var timeout = new CancellationTokenSource(Wait);
            return await calls.Reader.ReadAsync(timeout.Token);
        }

        private async Task<ReconciliationResult> RecordAsync(string call)
        {
            lock (calls)
                MaxConcurrent = Math.Max(MaxConcurrent, ++concurrent);
            Calls.Enqueue(call);
            calls.Writer.TryWrite(call);
            try
            {
                await Gate;
                if (Throw.TryDequeue(out var error))
                    throw error;
                return Results.TryDequeue(out var result) ? result : ReconciliationResult.Success();
            }
            finally
            {
                lock (calls)
                    concurrent--;
            }
        }
    }
}
