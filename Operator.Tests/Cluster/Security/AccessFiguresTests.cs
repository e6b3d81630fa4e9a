using System.Diagnostics;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// What TLS and RBAC cost per request on this server: the same GETs and merge patches over plain HTTP as admin, and
/// over HTTPS as a ServiceAccount whose Role RBAC checks on every call. Prints figures; asserts only the answers.
/// </summary>
public sealed class AccessFiguresTests
{
    private const int Requests = 400;

    [TestCase(false)]
    [TestCase(true)]
    public async Task Requests_per_second_with_and_without_TLS_and_RBAC(bool enforced)
    {
        await using var server = new TestApiServer(new TestApiServerOptions { Https = enforced, Access = enforced ? AccessMode.Rbac : AccessMode.EveryoneIsAdmin });
        await server.StartAsync();
        using var admin = server.CreateClient();
        await admin.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new() { Name = "menu" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, "default");
        var credentials = server.AdminCredentials;
        if (enforced)
        {
            await admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new() { Name = "cook" } }, "default");
            await admin.RbacAuthorizationV1.CreateNamespacedRoleAsync(new V1Role
            {
                Metadata = new() { Name = "cook" },
                Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["configmaps"], Verbs = ["get", "patch"] }],
            }, "default");
            await admin.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
            {
                Metadata = new() { Name = "cook" },
                RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = "cook" },
                Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "cook", NamespaceProperty = "default" }],
            }, "default");
            credentials = Credentials.FromToken(server.IssueToken("default", "cook"));
        }
        using var client = server.CreateClient(credentials);
        await client.CoreV1.ReadNamespacedConfigMapAsync("menu", "default"); // connection and TLS handshake

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Requests; i++)
            await client.CoreV1.ReadNamespacedConfigMapAsync("menu", "default");
        var reads = clock.Elapsed;
        clock.Restart();
        for (var i = 0; i < Requests; i++)
            await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch($$$"""{"data":{"a":"{{{i}}}"}}""", V1Patch.PatchType.MergePatch), "menu", "default");
        var patches = clock.Elapsed;

        var last = await admin.CoreV1.ReadNamespacedConfigMapAsync("menu", "default");
        Assert.That(last.Data["a"], Is.EqualTo((Requests - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        TestContext.Out.WriteLine($"{(enforced ? "HTTPS + RBAC (ServiceAccount token)" : "HTTP, everyone admin")}: " +
            $"GET {Requests / reads.TotalSeconds:0}/s ({reads.TotalMilliseconds * 1000 / Requests:0} µs each), " +
            $"merge patch {Requests / patches.TotalSeconds:0}/s ({patches.TotalMilliseconds * 1000 / Requests:0} µs each)");
    }
}
