using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>401/403 answers turned into one line naming what is missing, and noticed again when granted.</summary>
public sealed class AccessProblemsTests : ApiServerFixture
{
    protected override TestApiServerOptions Options => new() { Https = true, Access = AccessMode.Rbac };

    private async Task<Kubernetes> ServiceAccountClientAsync()
    {
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new() { Name = "minilb" } });
        await Client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new() { Name = "minilb" } }, "minilb");
        return Server.CreateClient(Credentials.FromToken(Server.IssueToken("minilb", "minilb")));
    }

    private Task CreateStatusRoleAsync() => Client.RbacAuthorizationV1.CreateClusterRoleAsync(new V1ClusterRole
    {
        Metadata = new() { Name = "status" },
        Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["services/status"], Verbs = ["patch"] }],
    });

    private Task GrantStatusPatchAsync() => Client.RbacAuthorizationV1.CreateClusterRoleBindingAsync(new V1ClusterRoleBinding
    {
        Metadata = new() { Name = "status" },
        RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "status" },
        Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "minilb", NamespaceProperty = "minilb" }],
    });

    [Test]
    public async Task A_403_becomes_one_warning_naming_the_verb_the_resource_and_where_to_grant_it()
    {
        using var minilb = await ServiceAccountClientAsync();
        var log = new CapturingLogger<AccessProblems>();
        var access = new AccessProblems(minilb, log);
        await Client.CoreV1.CreateNamespacedServiceAsync(new V1Service { Metadata = new() { Name = "web" }, Spec = new() { Ports = [new V1ServicePort { Port = 80 }] } }, "default");

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var refused = Assert.CatchAsync(() => minilb.CoreV1.PatchNamespacedServiceStatusAsync(new V1Patch("{}", V1Patch.PatchType.MergePatch), "web", "default"));
            Assert.That(access.Observe(refused), Is.True);
        }

        Assert.That(access.Current, Has.Count.EqualTo(1));
        Assert.That(access.Current[0], Is.EqualTo(access.Current[0] with { Verb = "patch", Resource = "services/status", Group = "", Namespace = "default" }));
        Assert.That(log.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message), Has.Exactly(1).StartsWith(
            "Forbidden: minilb may not patch services/status in namespace default (403 Forbidden): add the rule to its RBAC"));
        Assert.That(access.Observe(new HttpRequestException("connection refused")), Is.False, "other failures are the caller's to report");
    }

    [Test]
    public async Task A_permission_granted_again_is_noticed_by_asking_the_API_server()
    {
        using var minilb = await ServiceAccountClientAsync();
        await CreateStatusRoleAsync();
        var log = new CapturingLogger<AccessProblems>();
        var access = new AccessProblems(minilb, log) { Recheck = TimeSpan.FromMilliseconds(100) };
        var refused = Assert.CatchAsync(() => minilb.CoreV1.ListNodeAsync());
        access.Observe(refused);
        access.Observe(Assert.CatchAsync(() => minilb.CoreV1.PatchNamespacedServiceStatusAsync(new V1Patch("{}", V1Patch.PatchType.MergePatch), "web", "default")));
        var changed = new TaskCompletionSource();
        access.Changed += () => changed.TrySetResult();
        using var stop = new CancellationTokenSource();
        var rechecking = access.RunAsync(stop.Token);

        await GrantStatusPatchAsync();
        await changed.Task.WaitAsync(Patience);
        await stop.CancelAsync();
        await rechecking;

        Assert.That(access.Current.Select(p => $"{p.Verb} {p.Resource}"), Is.EqualTo(new[] { "list nodes" }), "still missing");
        Assert.That(log.Messages, Does.Contain("Allowed again: patch services/status"));
        Assert.That(access.Summary(), Does.StartWith("minilb may not list nodes (403 Forbidden)"));
    }

    [Test]
    public async Task A_refusal_seen_while_nothing_was_missing_wakes_the_recheck()
    {
        using var minilb = await ServiceAccountClientAsync();
        await CreateStatusRoleAsync();
        var log = new CapturingLogger<AccessProblems>();
        var access = new AccessProblems(minilb, log) { Recheck = TimeSpan.FromMilliseconds(100) };
        using var stop = new CancellationTokenSource();
        var rechecking = access.RunAsync(stop.Token); // nothing missing: it sleeps until something is
        await Task.Delay(300);

        access.Observe(Assert.CatchAsync(() => minilb.CoreV1.PatchNamespacedServiceStatusAsync(new V1Patch("{}", V1Patch.PatchType.MergePatch), "web", "default")));
        var allowed = new TaskCompletionSource();
        access.Changed += () => { if (access.Current.Count == 0) allowed.TrySetResult(); };
        await GrantStatusPatchAsync();
        await allowed.Task.WaitAsync(Patience);
        await stop.CancelAsync();
        await rechecking;

        Assert.That(log.Messages, Does.Contain("Allowed again: patch services/status"));
    }

    [Test]
    public void A_401_says_the_credentials_are_not_accepted()
    {
        var problem = AccessProblem.From(new KubernetesException(new V1Status { Code = 401, Message = "Unauthorized" }));

        Assert.That(problem!.Describe(), Does.Contain("does not accept minilb's credentials (401 Unauthorized)"));
    }
}
