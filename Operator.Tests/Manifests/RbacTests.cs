using System.Reflection;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Manifests;

namespace MiniLb.Operator.Tests.Manifests;

public sealed class RbacTests
{
    private static readonly IReadOnlyList<Permission> Permissions = RbacGenerator.Collect(RbacDeclarations.Types);

    [Test]
    public void The_ClusterRole_grants_exactly_the_calls_the_code_makes()
    {
        var rules = RbacGenerator.Rules(Permissions, RbacScope.Cluster)
            .SelectMany(r => r.Resources.Select(resource => $"{r.ApiGroups.Single()}/{resource}: {string.Join(",", r.Verbs)}"));

        Assert.That(rules, Is.EquivalentTo(new[]
        {
            "/services: list,watch",
            "/services/status: patch",
            "/nodes: list,watch",
            "/events: create,patch",
            "discovery.k8s.io/endpointslices: list,watch",
            "networking.k8s.io/ingresses: list,watch",
            "gateway.networking.k8s.io/gateways: list,watch",
            "gateway.networking.k8s.io/httproutes: list,watch",
            "gateway.networking.k8s.io/grpcroutes: list,watch",
            "gateway.networking.k8s.io/tlsroutes: list,watch",
            "minilb.io/minilbconfigs: list,watch",
            "minilb.io/minilbconfigs/status: patch",
        }));
    }

    [Test]
    public void Leases_are_granted_only_in_the_operators_namespace()
    {
        var rule = RbacGenerator.Rules(Permissions, RbacScope.OperatorNamespace).Single();

        Assert.That(rule.ApiGroups, Is.EqualTo(new[] { "coordination.k8s.io" }));
        Assert.That(rule.Resources, Is.EqualTo(new[] { "leases" }));
        Assert.That(rule.Verbs, Is.EqualTo(new[] { "get", "create", "patch" }));
        Assert.That(RbacGenerator.Rules(Permissions, RbacScope.Cluster).SelectMany(r => r.Resources), Has.None.EqualTo("leases"));
    }

    [Test]
    public void Verbs_declared_in_several_places_are_merged_into_one_rule()
    {
        var merged = RbacGenerator.Collect([typeof(ReadsServices), typeof(WritesServices)]);

        Assert.That(merged.Single(), Is.EqualTo(new Permission(RbacScope.Cluster, "", "services", RbacVerb.List | RbacVerb.Watch | RbacVerb.Patch)));
        Assert.That(RbacGenerator.Verbs(merged.Single().Verbs), Is.EqualTo(new[] { "list", "watch", "patch" }));
    }

    [Test]
    public void Every_class_that_declares_RBAC_is_a_source_of_the_generated_roles()
    {
        var declaring = typeof(RbacDeclarations).Assembly.GetTypes()
            .Where(t => t.GetCustomAttributes<EntityRbacAttribute>().Any() || t.GetCustomAttributes<GenericRbacAttribute>().Any());

        Assert.That(RbacDeclarations.Types, Is.EquivalentTo(declaring),
            "add the class to RbacDeclarations.Types, or its permissions are missing from config/rbac");
    }

    [TestCase("role.yaml")]
    [TestCase("leader_election_role.yaml")]
    public void The_committed_roles_grant_no_secrets_no_wildcards_and_writes_only_on_status_leases_and_events(string file)
    {
        // Read the YAML a cluster admin applies, not the generator's model of it: this is what the operator is granted.
        var role = k8s.KubernetesYaml.Deserialize<k8s.Models.V1ClusterRole>(
            File.ReadAllText(Path.Combine(TestObjects.RepositoryRoot, "config", "rbac", file)));
        var allowedWrites = new HashSet<string>
        {
            "/services/status:patch", "minilb.io/minilbconfigs/status:patch", "/events:create", "/events:patch",
            "coordination.k8s.io/leases:create", "coordination.k8s.io/leases:patch",
        };
        var grants = role.Rules.SelectMany(r => r.ApiGroups.SelectMany(g => r.Resources.SelectMany(res => r.Verbs.Select(v => $"{g}/{res}:{v}")))).ToList();

        Assert.That(grants, Is.Not.Empty);
        Assert.That(role.Rules.Where(r => r.ResourceNames is { Count: > 0 } || r.NonResourceURLs is { Count: > 0 }), Is.Empty);
        Assert.Multiple(() =>
        {
            foreach (var grant in grants)
            {
                Assert.That(grant, Does.Not.Contain("*").And.Not.Contain("secrets").And.Not.Contain("configmaps"), grant);
                if (!grant.EndsWith(":get") && !grant.EndsWith(":list") && !grant.EndsWith(":watch"))
                    Assert.That(allowedWrites, Does.Contain(grant), $"config/rbac/{file} grants a write the operator does not make: {grant}");
            }
        });
    }

    [EntityRbac(typeof(k8s.Models.V1Service), RbacVerb.List | RbacVerb.Watch)]
    private sealed class ReadsServices;

    [EntityRbac(typeof(k8s.Models.V1Service), RbacVerb.Patch | RbacVerb.List)]
    private sealed class WritesServices;
}
