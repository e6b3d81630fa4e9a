using System.Threading.Channels;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

public sealed class OperatorHostTests
{
    [Test]
    public async Task Registered_controllers_reconcile_from_their_informers_until_cancelled()
    {
        var host = new OperatorHost(new AlwaysLeader(), NullLoggerFactory.Instance);
        var nodes = host.Watch(Source(Kinds.Node, new V1Node { Metadata = new V1ObjectMeta { Name = "n1", ResourceVersion = "1" } }));
        var reconciled = Channel.CreateUnbounded<string>();
        host.AddController(nodes, new Recorder(reconciled.Writer));
        using var stop = new CancellationTokenSource();

        var run = host.RunAsync(stop.Token);
        await host.WaitForSyncAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);

        Assert.That(host.HasSynced, Is.True);
        Assert.That(await reconciled.Reader.ReadAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token), Is.EqualTo("n1"));
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Test]
    public void A_kind_is_watched_by_one_informer_shared_by_its_consumers()
    {
        var host = new OperatorHost(new AlwaysLeader(), NullLoggerFactory.Instance);
        host.Watch(Source(Kinds.Node));

        Assert.That(() => host.Watch(Source(Kinds.Node)), Throws.InvalidOperationException.With.Message.Contains("nodes"));
    }

    private static ListWatch<V1Node> Source(ResourceKind kind, params V1Node[] nodes) => new()
    {
        Kind = kind,
        List = (_, _, _) => Task.FromResult(new ListPage<V1Node>(nodes, "1", null)),
        Watch = (_, _, _, ct) => Channel.CreateUnbounded<(k8s.WatchEventType, V1Node)>().Reader.ReadAllAsync(ct),
    };

    private sealed class Recorder(ChannelWriter<string> calls) : IEntityController<V1Node>
    {
        public Task<ReconciliationResult> ReconcileAsync(V1Node entity, CancellationToken ct)
        {
            calls.TryWrite(entity.Metadata.Name);
            return Task.FromResult(ReconciliationResult.Success());
        }

        public Task<ReconciliationResult> DeletedAsync(V1Node entity, CancellationToken ct) => Task.FromResult(ReconciliationResult.Success());
    }
}
