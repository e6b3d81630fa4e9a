using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

public sealed class GroupDiscoveryTests
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(15);
    private readonly FakeTimeProvider time = new();

    [Test]
    public async Task The_kinds_of_one_group_version_share_a_look_until_it_is_no_longer_fresh()
    {
        var looks = new List<string>();
        var discovery = new GroupDiscovery((groupVersion, _) =>
        {
            looks.Add(groupVersion);
            return Task.FromResult<IReadOnlySet<string>?>(null);
        }, time, Fresh);

        foreach (var kind in new[] { Kinds.Gateway, Kinds.HttpRoute, Kinds.GrpcRoute, Kinds.TlsRoute })
            Assert.That(await discovery.ServesAsync(kind, CancellationToken.None), Is.False, kind.ToString());
        time.Advance(Fresh - TimeSpan.FromSeconds(1));
        await discovery.ServesAsync(Kinds.Gateway, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1));
        await discovery.ServesAsync(Kinds.Gateway, CancellationToken.None);

        Assert.That(looks, Is.EqualTo(new[] { "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1" }));
    }

    [Test]
    public async Task A_kind_is_served_when_its_group_version_lists_it_or_when_the_look_failed()
    {
        var standardChannel = new HashSet<string> { "gateways", "gateways/status", "httproutes" };
        var discovery = new GroupDiscovery((groupVersion, _) => groupVersion switch
        {
            "gateway.networking.k8s.io/v1" => Task.FromResult<IReadOnlySet<string>?>(standardChannel),
            "gateway.networking.k8s.io/v1alpha2" => Task.FromResult<IReadOnlySet<string>?>(null),
            _ => throw new HttpRequestException("403 Forbidden"),
        }, time, Fresh);

        Assert.Multiple(async () =>
        {
            Assert.That(await discovery.ServesAsync(Kinds.Gateway, CancellationToken.None), Is.True, "listed");
            Assert.That(await discovery.ServesAsync(Kinds.GrpcRoute, CancellationToken.None), Is.False, "its group version is served, it is not");
            Assert.That(await discovery.ServesAsync(Kinds.TlsRoute, CancellationToken.None), Is.False, "404: its group version is not served");
            Assert.That(await discovery.ServesAsync(new ResourceKind("example.com", "v1", "widgets", "Widget", true) { Optional = true }, CancellationToken.None),
                Is.True, "the look failed: the informer's LIST meets the problem and reports it");
        });
    }

    [Test]
    public void The_plurals_are_read_from_an_APIResourceList() =>
        Assert.That(GroupDiscovery.Plurals(JsonDocument.Parse("""
            {"kind":"APIResourceList","groupVersion":"gateway.networking.k8s.io/v1",
             "resources":[{"name":"gateways","kind":"Gateway"},{"name":"gateways/status"},{"kind":"no name"},7]}
            """)), Is.EquivalentTo(new[] { "gateways", "gateways/status" }));
}
