using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>RBAC decisions over the stored Roles, ClusterRoles and bindings, without HTTP.</summary>
public sealed class RbacAuthorizerTests
{
    private static readonly UserInfo Operator = UserInfo.ServiceAccount("minilb", "minilb");
    private ObjectStore _store = null!;
    private RbacAuthorizer _rbac = null!;

    [SetUp]
    public void CreateStore()
    {
        _store = new ObjectStore(100);
        _rbac = new RbacAuthorizer(_store);
    }

    private void Put(string plural, string? ns, string yaml)
    {
        var obj = (JsonObject)Yaml.ToJson(yaml)!;
        var metadata = (JsonObject)obj["metadata"]!;
        if (ns is not null) metadata["namespace"] = ns;
        _store.Put($"rbac.authorization.k8s.io/{plural}", obj, null);
    }

    private void BindClusterRole(string role, string rules)
    {
        Put("clusterroles", null, $"metadata: {{name: {role}}}\nrules: {rules}");
        Put("clusterrolebindings", null, $$"""
            metadata: {name: {{role}}}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {{role}}}
            subjects: [{kind: ServiceAccount, name: minilb, namespace: minilb}]
            """);
    }

    private static RequestAttributes Ask(string verb, string resource, string group = "", string? ns = null, string? name = null, string? sub = null) =>
        new() { Verb = verb, Resource = resource, Group = group, Namespace = ns, Name = name, Subresource = sub };

    [Test]
    public void A_cluster_role_grants_its_verbs_on_its_resources_in_every_namespace_and_nothing_else()
    {
        BindClusterRole("reader", "[{apiGroups: [''], resources: [services], verbs: [list, watch]}]");

        Assert.That(_rbac.Allows(Operator, Ask("list", "services", ns: "shop")), Is.True);
        Assert.That(_rbac.Allows(Operator, Ask("watch", "services")), Is.True, "cluster-wide");
        Assert.That(_rbac.Allows(Operator, Ask("get", "services", ns: "shop", name: "web")), Is.False, "another verb");
        Assert.That(_rbac.Allows(Operator, Ask("list", "pods", ns: "shop")), Is.False, "another resource");
        Assert.That(_rbac.Allows(Operator, Ask("list", "services", group: "apps")), Is.False, "another API group");
        Assert.That(_rbac.Allows(UserInfo.ServiceAccount("other", "minilb"), Ask("list", "services")), Is.False, "another subject");
    }

    [Test]
    public void A_subresource_needs_its_own_rule()
    {
        BindClusterRole("status", "[{apiGroups: [''], resources: [services], verbs: [patch]}, {apiGroups: [minilb.io], resources: ['*/status'], verbs: [patch]}]");

        Assert.That(_rbac.Allows(Operator, Ask("patch", "services", ns: "shop", name: "web")), Is.True);
        Assert.That(_rbac.Allows(Operator, Ask("patch", "services", ns: "shop", name: "web", sub: "status")), Is.False, "services does not cover services/status");
        Assert.That(_rbac.Allows(Operator, Ask("patch", "minilbconfigs", "minilb.io", name: "default", sub: "status")), Is.True, "*/status");
    }

    [Test]
    public void Resource_names_limit_a_rule_to_those_objects()
    {
        BindClusterRole("one-lease", "[{apiGroups: [coordination.k8s.io], resources: [leases], resourceNames: [minilb], verbs: [get, update]}]");

        Assert.That(_rbac.Allows(Operator, Ask("get", "leases", "coordination.k8s.io", "minilb", "minilb")), Is.True);
        Assert.That(_rbac.Allows(Operator, Ask("get", "leases", "coordination.k8s.io", "minilb", "other")), Is.False);
        Assert.That(_rbac.Allows(Operator, Ask("list", "leases", "coordination.k8s.io", "minilb")), Is.False, "a list names no object");
    }

    [Test]
    public void A_role_binding_grants_only_in_its_namespace_also_through_a_cluster_role()
    {
        Put("roles", "minilb", "metadata: {name: leader}\nrules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: ['*']}]");
        Put("rolebindings", "minilb", """
            metadata: {name: leader}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leader}
            subjects: [{kind: ServiceAccount, name: minilb, namespace: minilb}]
            """);
        Put("clusterroles", null, "metadata: {name: view}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get]}]");
        Put("rolebindings", "minilb", """
            metadata: {name: view}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
            subjects: [{kind: Group, name: 'system:serviceaccounts:minilb'}]
            """);

        Assert.That(_rbac.Allows(Operator, Ask("create", "leases", "coordination.k8s.io", "minilb")), Is.True);
        Assert.That(_rbac.Allows(Operator, Ask("create", "leases", "coordination.k8s.io", "default")), Is.False);
        Assert.That(_rbac.Allows(Operator, Ask("get", "configmaps", ns: "minilb", name: "x")), Is.True, "a ClusterRole bound in one namespace, to a group");
        Assert.That(_rbac.Allows(Operator, Ask("get", "configmaps", ns: "default", name: "x")), Is.False);
    }

    [Test]
    public void A_binding_to_a_missing_role_grants_nothing_and_masters_may_do_anything()
    {
        Put("clusterrolebindings", null, """
            metadata: {name: dangling}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gone}
            subjects: [{kind: User, name: alice}]
            """);

        Assert.That(_rbac.Allows(new UserInfo("alice", ["system:authenticated"]), Ask("get", "pods", ns: "x", name: "p")), Is.False);
        Assert.That(_rbac.Allows(new UserInfo("root", [UserInfo.Masters]), Ask("delete", "nodes", name: "n")), Is.True);
    }

    [Test]
    public void Non_resource_paths_match_exactly_or_by_a_trailing_star()
    {
        foreach (var (plural, obj) in RbacAuthorizer.BootstrapObjects())
            _store.Put($"rbac.authorization.k8s.io/{plural}", obj, null);
        var someone = new UserInfo("bob", ["system:authenticated"]);

        Assert.That(_rbac.Allows(someone, new RequestAttributes { Verb = "get", Path = "/apis/apps/v1" }), Is.True);
        Assert.That(_rbac.Allows(UserInfo.Anonymous, new RequestAttributes { Verb = "get", Path = "/version" }), Is.True);
        Assert.That(_rbac.Allows(UserInfo.Anonymous, new RequestAttributes { Verb = "get", Path = "/api" }), Is.False);
        Assert.That(_rbac.Allows(someone, new RequestAttributes { Verb = "get", Path = "/metrics" }), Is.False);
    }

    [Test]
    public void The_403_names_the_user_the_verb_the_resource_and_where_as_kube_apiserver_does()
    {
        var error = RbacAuthorizer.Forbidden(Operator, Ask("patch", "services", ns: "shop", name: "web", sub: "status"));
        var list = RbacAuthorizer.Forbidden(Operator, Ask("list", "leases", "coordination.k8s.io"));

        Assert.That(error.Message, Is.EqualTo("services \"web\" is forbidden: User \"system:serviceaccount:minilb:minilb\" cannot patch resource \"services/status\" in API group \"\" in the namespace \"shop\""));
        Assert.That(error.ToStatus()["reason"]!.GetValue<string>(), Is.EqualTo("Forbidden"));
        Assert.That(list.Message, Is.EqualTo("leases.coordination.k8s.io is forbidden: User \"system:serviceaccount:minilb:minilb\" cannot list resource \"leases\" in API group \"coordination.k8s.io\" at the cluster scope"));
    }
}
