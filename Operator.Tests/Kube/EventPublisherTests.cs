using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using static MiniLb.Operator.Tests.Kube.ScriptedApiServer;

namespace MiniLb.Operator.Tests.Kube;

public sealed class EventPublisherTests
{
    private ScriptedApiServer server = null!;
    private readonly MiniLbConfig config = new() { Metadata = new V1ObjectMeta { Name = "default", Uid = "u-1" } };

    [SetUp]
    public async Task Start()
    {
        server = await StartAsync();
        server.Always(r => r.Method == "POST", Json("{}", 201));
        server.Always(r => r.Method == "PATCH", Json("{}"));
    }

    [TearDown]
    public async Task Stop() => await server.DisposeAsync();

    [Test]
    public async Task An_event_names_its_object_and_lands_in_default_for_cluster_scoped_objects()
    {
        await Publisher().PublishAsync(config, EventType.Warning, "ListenFailed", "listen :53: address already in use", CancellationToken.None);

        var request = server.Requests.Single();
        Assert.That((request.Method, request.Path), Is.EqualTo(("POST", "/api/v1/namespaces/default/events")));
        var body = JsonNode.Parse(request.Body)!;
        Assert.That(body["involvedObject"]!.ToJsonString(), Is.EqualTo("""{"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfig","name":"default","uid":"u-1"}"""));
        Assert.That((string?)body["type"], Is.EqualTo("Warning"));
        Assert.That((string?)body["reason"], Is.EqualTo("ListenFailed"));
        Assert.That((string?)body["message"], Is.EqualTo("listen :53: address already in use"));
        Assert.That((int?)body["count"], Is.EqualTo(1));
        Assert.That((string?)body["reportingComponent"], Is.EqualTo("minilb"));
        Assert.That((string?)body["lastTimestamp"], Does.StartWith("2026-01-02T03:04:05"));
    }

    [Test]
    public async Task A_repeated_event_bumps_the_count_of_the_first_one()
    {
        var publisher = Publisher();
        for (var i = 0; i < 3; i++)
            await publisher.PublishAsync(config, EventType.Warning, "ListenFailed", "port in use", CancellationToken.None);
        await publisher.PublishAsync(config, EventType.Normal, "Listening", "serving on :53", CancellationToken.None);

        var requests = server.Requests.ToList();
        Assert.That(requests.Select(r => r.Method), Is.EqualTo(new[] { "POST", "PATCH", "PATCH", "POST" }));
        var name = (string?)JsonNode.Parse(requests[0].Body)!["metadata"]!["name"];
        Assert.That(requests[2].Path, Is.EqualTo($"/api/v1/namespaces/default/events/{name}"));
        Assert.That(requests[2].ContentType, Does.StartWith("application/merge-patch+json"));
        Assert.That((int?)JsonNode.Parse(requests[2].Body)!["count"], Is.EqualTo(3));
    }

    [Test]
    public async Task A_Services_event_goes_to_its_namespace_and_only_the_leader_writes()
    {
        var service = new V1Service { ApiVersion = "v1", Kind = "Service", Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop", Uid = "u-2" } };

        await Publisher(leader: false).PublishAsync(service, EventType.Warning, "PortDiffers", "port 80 targets 8080", CancellationToken.None);
        Assert.That(server.Requests, Is.Empty);

        await Publisher().PublishAsync(service, EventType.Warning, "PortDiffers", "port 80 targets 8080", CancellationToken.None);
        Assert.That(server.Requests.Single().Path, Is.EqualTo("/api/v1/namespaces/shop/events"));
    }

    [Test]
    public async Task A_failed_write_is_logged_not_thrown()
    {
        await using var down = await StartAsync();
        var log = new CapturingLogger<EventPublisher>();
        var publisher = new EventPublisher(down.Client(), new AlwaysLeader(), log);

        await publisher.PublishAsync(config, EventType.Normal, "Ready", "ok", CancellationToken.None);

        Assert.That(log.Messages.Single(), Does.Contain("Ready").And.Contain("default"));
    }

    private EventPublisher Publisher(bool leader = true) =>
        new(server.Client(), leader ? new AlwaysLeader() : new TestLeadership(), new CapturingLogger<EventPublisher>(),
            new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));
}
