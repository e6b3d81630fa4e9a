using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Tests.Controllers.Rules;

/// <summary>The one readiness rule of `minilb run` (what its /readyz serves), against fakes of what it reads.</summary>
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class OperatorHealthTests
{
    private readonly HealthChecks checks = new();
    private readonly FakeConfigInForce config = new();
    private readonly TaskCompletionSource running = new();
    private List<string> unlisted = [];
    private string? forbidden;

    [SetUp]
    public void Register() => OperatorHealth.Register(checks, running.Task, () => unlisted, config, () => forbidden);

    [Test]
    public void Not_ready_until_every_kind_is_listed_and_DNS_listens_each_named()
    {
        unlisted = ["Service", "Node"];

        Assert.That(Readyz(), Does.Contain("[-]caches-synced failed: waiting for the first LIST of Service, Node\n")
            .And.Contain("[-]dns-bound failed: DNS is not listening yet\n").And.EndWith("readyz check failed\n"));

        unlisted = [];
        config.Apply();
        Assert.That(checks.Report(Probe.Readiness).Healthy, Is.True);
    }

    [Test]
    public void DNS_that_cannot_listen_fails_readiness_with_the_configurations_problem()
    {
        config.Problem = new ConfigProblem("ListenFailed", "listen 127.0.0.1:53: address already in use", 1);

        Assert.That(Readyz(), Does.Contain("[-]dns-bound failed: listen 127.0.0.1:53: address already in use\n"));
    }

    [Test]
    public void The_flags_in_force_a_spec_not_applied_and_a_missing_permission_are_noted_not_failed()
    {
        config.Apply(source: null);
        Assert.That(Readyz(), Does.Contain("[+]config-source ok, but: the defaults in force (no MiniLbConfig 'default')\n").And.EndWith("readyz check passed\n"));

        config.Apply();
        config.Problem = new ConfigProblem("InvalidSpec", "spec.ttl: must be at least 1", 2);
        forbidden = "minilb may not patch services/status (403 Forbidden)";
        Assert.That(Readyz(), Does.Contain("[+]config-source ok, but: serving the last good configuration; the newest spec is not applied: spec.ttl: must be at least 1\n")
            .And.Contain("[+]api-access ok, but: minilb may not patch services/status (403 Forbidden)\n").And.EndWith("readyz check passed\n"));

        config.Problem = null;
        forbidden = null;
        Assert.That(Readyz(), Is.EqualTo("readyz check passed\n"), "the MiniLbConfig in force as its newest spec says: nothing to note");
    }

    [Test]
    public void A_stopped_operator_is_neither_alive_nor_ready()
    {
        config.Apply();
        running.SetException(new InvalidOperationException("the lease loop failed"));

        Assert.That(checks.Report(Probe.Liveness).Text("healthz", verbose: false), Does.Contain("[-]informers failed: the operator stopped: the lease loop failed\n"));
        Assert.That(checks.Report(Probe.Readiness).Healthy, Is.False);
    }

    private string Readyz() => checks.Report(Probe.Readiness).Text("readyz", verbose: false);
}
