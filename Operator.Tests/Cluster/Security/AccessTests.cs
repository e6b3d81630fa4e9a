using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>KubernetesClient against the server over HTTPS with authentication and RBAC enforced.</summary>
public sealed class AccessTests : ApiServerFixture
{
    protected override TestApiServerOptions Options => new() { Https = true, Access = AccessMode.Rbac };

    private async Task<string> ServiceAccountTokenAsync(string ns, string name)
    {
        if (await Client.CoreV1.ListNamespaceAsync(fieldSelector: $"metadata.name={ns}") is { Items.Count: 0 })
            await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new() { Name = ns } });
        await Client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new() { Name = name } }, ns);
        var request = await Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest { Spec = new() { ExpirationSeconds = 3600 } }, name, ns);
        return request.Status.Token;
    }

    private async Task GrantAsync(string ns, string name, string resource, params string[] verbs)
    {
        await Client.RbacAuthorizationV1.CreateNamespacedRoleAsync(new V1Role
        {
            Metadata = new() { Name = name },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = [resource], Verbs = verbs }],
        }, ns);
        await Client.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
        {
            Metadata = new() { Name = name },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = name },
            Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = name, NamespaceProperty = ns }],
        }, ns);
    }

    [Test]
    public async Task The_client_trusts_the_server_through_the_generated_CA_only()
    {
        var namespaces = await Client.CoreV1.ListNamespaceAsync();
        Assert.That(Server.Uri.Scheme, Is.EqualTo("https"));
        Assert.That(namespaces.Items.Select(n => n.Metadata.Name), Does.Contain("default"));

        using var untrusting = new HttpClient();
        Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync(new Uri(Server.Uri, "/version")), "a client without the CA refuses the certificate");
    }

    [Test]
    public async Task A_service_account_token_from_the_TokenRequest_API_acts_as_that_account_until_revoked()
    {
        var token = await ServiceAccountTokenAsync("shop", "reader");
        await GrantAsync("shop", "reader", "configmaps", "get", "list");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new() { Name = "menu" } }, "shop");
        using var reader = Server.CreateClient(Credentials.FromToken(token));

        var listed = await reader.CoreV1.ListNamespacedConfigMapAsync("shop");
        var (code, status) = await FailureOf(() => reader.CoreV1.ListNamespacedConfigMapAsync("default"));
        Assert.That(listed.Items.Select(c => c.Metadata.Name), Is.EqualTo(new[] { "menu" }));
        Assert.That(code, Is.EqualTo(403));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("Forbidden"));
        Assert.That(status["message"]!.GetValue<string>(), Is.EqualTo(
            "configmaps is forbidden: User \"system:serviceaccount:shop:reader\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""));

        Assert.That(Server.RevokeToken(token), Is.True);
        var (revoked, unauthorized) = await FailureOf(() => reader.CoreV1.ListNamespacedConfigMapAsync("shop"));
        Assert.That(revoked, Is.EqualTo(401));
        Assert.That(unauthorized["reason"]!.GetValue<string>(), Is.EqualTo("Unauthorized"));
    }

    [Test]
    public async Task A_token_stops_working_when_its_service_account_is_deleted()
    {
        var token = await ServiceAccountTokenAsync("shop", "gone");
        using var orphan = Server.CreateClient(Credentials.FromToken(token));
        var before = await orphan.AuthenticationV1.CreateSelfSubjectReviewAsync(new V1SelfSubjectReview());

        await Client.CoreV1.DeleteNamespacedServiceAccountAsync("gone", "shop");
        var (code, _) = await FailureOf(() => orphan.AuthenticationV1.CreateSelfSubjectReviewAsync(new V1SelfSubjectReview()));

        Assert.That(before.Status.UserInfo.Username, Is.EqualTo("system:serviceaccount:shop:gone"));
        Assert.That(code, Is.EqualTo(401));
    }

    [Test]
    public async Task A_token_expires_after_its_lifetime_which_is_ten_minutes_at_least()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = new TestApiServer(new TestApiServerOptions { Access = AccessMode.Rbac, Time = time });
        await server.StartAsync();
        using var admin = server.CreateClient();
        await admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new() { Name = "short" } }, "default");
        var (tooShort, invalid) = await FailureOf(() => admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new() { ExpirationSeconds = 60 } }, "short", "default"));
        var issued = await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new() { ExpirationSeconds = 600 } }, "short", "default");
        using var client = server.CreateClient(Credentials.FromToken(issued.Status.Token));
        var whoami = await client.AuthenticationV1.CreateSelfSubjectReviewAsync(new V1SelfSubjectReview());

        time.Advance(TimeSpan.FromMinutes(10));
        var (expired, _) = await FailureOf(() => client.AuthenticationV1.CreateSelfSubjectReviewAsync(new V1SelfSubjectReview()));

        Assert.That(tooShort, Is.EqualTo(422));
        Assert.That(invalid["message"]!.GetValue<string>(), Does.Contain("may not specify a duration less than 10 minutes"));
        Assert.That(whoami.Status.UserInfo.Username, Is.EqualTo("system:serviceaccount:default:short"));
        Assert.That(expired, Is.EqualTo(401));
    }

    [Test]
    public async Task Rules_take_effect_on_the_next_request_when_granted_and_when_removed()
    {
        var token = await ServiceAccountTokenAsync("shop", "writer");
        using var writer = Server.CreateClient(Credentials.FromToken(token));
        var (before, _) = await FailureOf(() => writer.CoreV1.ListNamespacedServiceAsync("shop"));

        await GrantAsync("shop", "writer", "services", "list");
        var during = await writer.CoreV1.ListNamespacedServiceAsync("shop");
        await Client.RbacAuthorizationV1.DeleteNamespacedRoleAsync("writer", "shop");
        var (after, _) = await FailureOf(() => writer.CoreV1.ListNamespacedServiceAsync("shop"));

        Assert.That(before, Is.EqualTo(403));
        Assert.That(during.Items, Is.Empty);
        Assert.That(after, Is.EqualTo(403), "a binding to a deleted role grants nothing");
    }

    [Test]
    public async Task A_client_certificate_names_the_user_by_CN_and_the_groups_by_O()
    {
        using var master = Server.CreateClient(Server.IssueClientCertificate("ops", UserInfo.Masters));
        using var alice = Server.CreateClient(Server.IssueClientCertificate("alice", "developers"));
        await Client.RbacAuthorizationV1.CreateClusterRoleAsync(new V1ClusterRole
        {
            Metadata = new() { Name = "node-reader" },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["nodes"], Verbs = ["list"] }],
        });
        await Client.RbacAuthorizationV1.CreateClusterRoleBindingAsync(new V1ClusterRoleBinding
        {
            Metadata = new() { Name = "developers-read-nodes" },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "node-reader" },
            Subjects = [new Rbacv1Subject { Kind = "Group", Name = "developers" }],
        });

        await master.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new() { Name = "made-by-ops" } });
        var nodes = await alice.CoreV1.ListNodeAsync();
        var (code, status) = await FailureOf(() => alice.CoreV1.ListNamespaceAsync());

        Assert.That(nodes.Items, Is.Empty);
        Assert.That(code, Is.EqualTo(403));
        Assert.That(status["message"]!.GetValue<string>(), Does.StartWith("namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\""));
    }

    [Test]
    public async Task A_certificate_from_another_CA_is_a_401_and_no_credentials_is_system_anonymous()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mallory, O=system:masters", key, HashAlgorithmName.SHA256);
        using var forged = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pem = new Credentials { CertificatePem = forged.ExportCertificatePem(), KeyPem = key.ExportECPrivateKeyPem() };
        using var mallory = Server.CreateClient(pem);
        var (code, _) = await FailureOf(() => mallory.CoreV1.ListNamespaceAsync());
        Assert.That(code, Is.EqualTo(401));

        using var anonymous = Server.CreateClient(new Credentials());
        var (denied, status) = await FailureOf(() => anonymous.CoreV1.ListNamespaceAsync());
        var version = await anonymous.Version.GetCodeAsync();
        Assert.That(denied, Is.EqualTo(403));
        Assert.That(status["message"]!.GetValue<string>(), Does.Contain("User \"system:anonymous\""));
        Assert.That(version.GitVersion, Does.StartWith("v1."), "/version is public, as system:public-info-viewer makes it");
    }

    [Test]
    public async Task A_self_subject_access_review_answers_from_the_same_rules()
    {
        var token = await ServiceAccountTokenAsync("shop", "asker");
        await GrantAsync("shop", "asker", "services", "list");
        using var asker = Server.CreateClient(Credentials.FromToken(token));

        async Task<bool> CanAsync(string verb, string resource, string ns, string? subresource = null) =>
            (await asker.AuthorizationV1.CreateSelfSubjectAccessReviewAsync(new V1SelfSubjectAccessReview
            {
                Spec = new() { ResourceAttributes = new() { Verb = verb, Resource = resource, NamespaceProperty = ns, Subresource = subresource } },
            })).Status.Allowed;

        Assert.That(await CanAsync("list", "services", "shop"), Is.True);
        Assert.That(await CanAsync("list", "services", "default"), Is.False);
        Assert.That(await CanAsync("patch", "services", "shop", "status"), Is.False);
        var whoami = await asker.AuthenticationV1.CreateSelfSubjectReviewAsync(new V1SelfSubjectReview());
        Assert.That(whoami.Status.UserInfo.Username, Is.EqualTo("system:serviceaccount:shop:asker"));
        Assert.That(whoami.Status.UserInfo.Groups, Does.Contain("system:serviceaccounts:shop"));
    }

    [Test]
    public async Task A_watch_needs_the_watch_verb()
    {
        var token = await ServiceAccountTokenAsync("shop", "lister");
        await GrantAsync("shop", "lister", "configmaps", "list");
        using var lister = new HttpClient(new HttpClientHandler
        {
            // The serving certificate is the only one the CA issues for a server.
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate!.Issuer == Server.Authority!.Certificate.Subject,
        }) { BaseAddress = Server.Uri };
        lister.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var list = await lister.GetAsync("/api/v1/namespaces/shop/configmaps");
        using var watch = await lister.GetAsync("/api/v1/namespaces/shop/configmaps?watch=true&timeoutSeconds=1");

        Assert.That(list.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(watch.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var status = System.Text.Json.Nodes.JsonNode.Parse(await watch.Content.ReadAsStringAsync())!;
        Assert.That(status["message"]!.GetValue<string>(), Does.Contain("cannot watch resource \"configmaps\""));
    }
}
