using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Tests.Kube;
using static MiniLb.Operator.Tests.Kube.ScriptedApiServer;

namespace MiniLb.Operator.Tests.Controllers.Rules;

/// <summary>The Service controller's rules against fakes of what it reads and writes; ServiceControllerTests shows them end to end.</summary>
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class ServiceControllerRulesTests
{
    private readonly FakeConfigInForce config = new FakeConfigInForce().Apply("lan.example");
    private readonly FakeStatusPatches status = new();
    private readonly RecordedEvents events = new();

    private ServiceController Controller() => new(config, status, events);

    [Test]
    public async Task A_served_Service_gets_its_hostname_once_with_a_Normal_event()
    {
        var web = TestObjects.Service("default", "web");

        await Controller().ReconcileAsync(ServiceView.From(web), CancellationToken.None);
        await Controller().ReconcileAsync(ServiceView.From(WithIngress(web, "web.default.lan.example")), CancellationToken.None);

        Assert.That(status.Ingress["default/web"], Is.EqualTo(new[] { "web.default.lan.example" }));
        Assert.That(status.Writes, Is.EqualTo(1), "the second reconcile finds the hostname written");
        var assigned = events.Published.Single();
        Assert.That((assigned.Type, assigned.Reason), Is.EqualTo((EventType.Normal, "HostnameAssigned")));
        Assert.That(assigned.Message, Does.Contain("web.default.lan.example"));
    }

    [Test]
    public async Task Nothing_is_written_until_a_configuration_is_in_force()
    {
        var result = await new ServiceController(new FakeConfigInForce(), status, events)
            .ReconcileAsync(ServiceView.From(TestObjects.Service("default", "web")), CancellationToken.None);

        Assert.That(result.RequeueAfter, Is.Not.Null, "tried again soon");
        Assert.That(status.Writes, Is.Zero);
        Assert.That(events.Published, Is.Empty);
    }

    [Test]
    public async Task An_excluded_Service_loses_the_hostname_minilb_wrote_with_a_Normal_event_saying_why()
    {
        var web = WithIngress(TestObjects.Service("default", "web"), "web.default.lan.example");
        web.Metadata.Annotations = new Dictionary<string, string> { [ServedService.ExcludeAnnotation] = "true" };

        await Controller().ReconcileAsync(ServiceView.From(web), CancellationToken.None);

        Assert.That(status.Ingress["default/web"], Is.Empty);
        var removed = events.Published.Single();
        Assert.That((removed.Type, removed.Reason), Is.EqualTo((EventType.Normal, "HostnameRemoved")));
        Assert.That(removed.Message, Does.Contain(ServedService.ExcludeAnnotation));
    }

    [Test]
    public async Task A_hostname_under_an_earlier_domain_is_removed_and_another_load_balancers_entry_stays()
    {
        config.Apply("home.arpa");
        var web = WithIngress(TestObjects.Service("default", "web", type: "ClusterIP", loadBalancerClass: null), "web.default.lan.example", "web.example.com");

        await Controller().ReconcileAsync(ServiceView.From(web), CancellationToken.None);

        Assert.That(status.Ingress["default/web"], Is.EqualTo(new[] { "web.example.com" }));
    }

    [Test]
    public async Task A_Service_of_another_class_is_never_written_nor_told_anything()
    {
        var theirs = WithIngress(TestObjects.Service("default", "theirs", loadBalancerClass: "metallb"), "theirs.example.com");

        await Controller().ReconcileAsync(ServiceView.From(theirs), CancellationToken.None);

        Assert.That(status.Writes, Is.Zero);
        Assert.That(events.Published, Is.Empty);
        Assert.That(events.Problems, Is.Empty);
    }

    [Test]
    public async Task A_bad_annotation_is_a_problem_while_it_is_there_and_clears_when_fixed()
    {
        var web = TestObjects.Service("default", "web");
        web.Metadata.Annotations = new Dictionary<string, string> { [ServedService.ExcludeAnnotation] = "yes" };

        await Controller().ReconcileAsync(ServiceView.From(web), CancellationToken.None);
        Assert.That(events.ProblemOf("web", "InvalidAnnotation"), Is.EqualTo("annotation minilb/exclude: 'yes' is not \"true\" or \"false\"; treated as not excluded"));
        Assert.That(status.Ingress["default/web"], Is.EqualTo(new[] { "web.default.lan.example" }), "counts as unset: served");

        web.Metadata.Annotations[ServedService.ExcludeAnnotation] = "false";
        await Controller().ReconcileAsync(ServiceView.From(web), CancellationToken.None);
        Assert.That(events.ProblemOf("web", "InvalidAnnotation"), Is.Null);
    }

    [Test]
    public async Task A_port_whose_targetPort_differs_is_a_problem_only_while_the_Service_is_served()
    {
        var api = TestObjects.Service("default", "api", ports: new V1ServicePort { Name = "http", Port = 80, TargetPort = 8080 });

        await Controller().ReconcileAsync(ServiceView.From(api), CancellationToken.None);
        Assert.That(events.ProblemOf("api", "PortDiffersFromTargetPort"), Does.Contain("port 80 (http) → targetPort 8080").And.Contain("api.default.lan.example"));

        api.Spec.LoadBalancerClass = "other";
        await Controller().ReconcileAsync(ServiceView.From(api), CancellationToken.None);
        Assert.That(events.ProblemOf("api", "PortDiffersFromTargetPort"), Is.Null, "not minilb's any more");
    }

    [Test]
    public async Task A_deleted_Service_is_forgotten()
    {
        await Controller().DeletedAsync(ServiceView.From(TestObjects.Service("default", "web")), CancellationToken.None);

        Assert.That(events.Forgotten, Is.EqualTo(new[] { "web" }));
    }

    [Test]
    public async Task Through_the_real_publisher_a_bad_annotation_is_one_Warning_however_often_reconciled_and_again_after_a_fix()
    {
        await using var server = await StartAsync();
        server.Always(r => r.Method == "POST", Json("{}", 201));
        server.Always(r => r.Method == "PATCH", Json("{}"));
        var publisher = new EventPublisher(server.Client(), new AlwaysLeader(), new CapturingLogger<EventPublisher>(), new FakeTimeProvider(DateTimeOffset.UnixEpoch));
        var controller = new ServiceController(config, status, publisher);
        // The hostname is written already: the only Events are about the annotation.
        var bad = WithIngress(TestObjects.Service("default", "web"), "web.default.lan.example");
        bad.Metadata.Annotations = new Dictionary<string, string> { [ServedService.ExcludeAnnotation] = "yes" };
        var good = WithIngress(TestObjects.Service("default", "web"), "web.default.lan.example");

        for (var i = 0; i < 3; i++)
            await controller.ReconcileAsync(ServiceView.From(bad), CancellationToken.None);
        Assert.That(server.Requests.Select(r => r.Method), Is.EqualTo(new[] { "POST" }), "one Warning for three reconciles");
        Assert.That(server.Requests.Single().Body, Does.Contain("InvalidAnnotation"));

        await controller.ReconcileAsync(ServiceView.From(good), CancellationToken.None);
        await controller.ReconcileAsync(ServiceView.From(bad), CancellationToken.None);
        var requests = server.Requests.ToList();
        Assert.That(requests.Select(r => r.Method), Is.EqualTo(new[] { "POST", "PATCH" }), "broken again after a fix: the Warning is repeated");
        Assert.That(requests[1].Body, Does.Contain("\"count\":2"));
    }

    private static V1Service WithIngress(V1Service service, params string[] hostnames)
    {
        service.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = hostnames.Select(h => new V1LoadBalancerIngress { Hostname = h }).ToList() } };
        return service;
    }
}
