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

    [Test]
    public async Task A_standing_problem_is_written_once_and_again_when_it_returns_after_a_fix()
    {
        var publisher = Publisher();
        for (var i = 0; i < 3; i++)
            await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        Assert.That(server.Requests.Select(r => r.Method), Is.EqualTo(new[] { "POST" }), "the same problem again is no news");

        await publisher.ReportProblemAsync(config, "ConfigNotApplied", null, CancellationToken.None);
        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "domain 'a..b' is not a DNS name", CancellationToken.None);

        var requests = server.Requests.ToList();
        Assert.That(requests.Select(r => r.Method), Is.EqualTo(new[] { "POST", "PATCH", "POST" }), "back after a fix: counted; a new message: a new Event");
        Assert.That((int?)JsonNode.Parse(requests[1].Body)!["count"], Is.EqualTo(2));
        Assert.That((string?)JsonNode.Parse(requests[2].Body)!["type"], Is.EqualTo("Warning"));
    }

    [Test]
    public async Task A_problem_still_there_after_its_Event_expired_is_written_again()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var publisher = new EventPublisher(server.Client(), new AlwaysLeader(), new CapturingLogger<EventPublisher>(), time);

        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(59));
        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        Assert.That(server.Requests, Has.Count.EqualTo(1));

        time.Advance(TimeSpan.FromMinutes(2));
        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        var again = server.Requests.Last();
        Assert.That(again.Method, Is.EqualTo("POST"), "the server deleted the old Event after its TTL: a new one");
        Assert.That((string?)JsonNode.Parse(again.Body)!["lastTimestamp"], Does.StartWith("2026-01-02T04:05:05"));
    }

    [Test]
    public async Task A_forgotten_object_and_a_new_leader_write_a_problem_that_still_holds()
    {
        var leadership = new TestLeadership();
        var publisher = new EventPublisher(server.Client(), leadership, new CapturingLogger<EventPublisher>());

        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        Assert.That(server.Requests, Is.Empty, "a follower writes nothing");
        leadership.Become(true);
        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        Assert.That(server.Requests, Has.Count.EqualTo(1), "and remembered nothing, so the new leader writes it");

        publisher.Forget(config);
        await publisher.ReportProblemAsync(config, "ConfigNotApplied", "port in use", CancellationToken.None);
        Assert.That(server.Requests, Has.Count.EqualTo(2), "deleted and created again: the problem is news");
    }

    private EventPublisher Publisher(bool leader = true) =>
        new(server.Client(), leader ? new AlwaysLeader() : new TestLeadership(), new CapturingLogger<EventPublisher>(),
            new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));
}
