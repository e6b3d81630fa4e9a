namespace MiniLb.Operator.Tests.Cluster;

/// <summary>kubectl 1.34 over HTTPS with RBAC: the CA from the kubeconfig, create token, auth can-i, auth whoami, 403s.</summary>
public sealed class KubectlAccessTests : CliFixture
{
    protected override TestApiServerOptions Options => new() { Https = true, Access = AccessMode.Rbac };

    private const string Reader = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: reader, namespace: shop}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader, namespace: shop}
        rules:
        - apiGroups: [""]
          resources: [services]
          verbs: [get, list, watch]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: reader, namespace: shop}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
        subjects:
        - {kind: ServiceAccount, name: reader, namespace: shop}
        """;

    /// <summary>A kubeconfig for the ServiceAccount, with a token kubectl itself asked for.</summary>
    private async Task<string> ReaderKubeconfigAsync(CliTool kubectl)
    {
        Succeeded(await kubectl.RunAsync(["apply", "-f", WriteFile("reader.yaml", Reader)]));
        var token = await kubectl.RunAsync(["create", "token", "reader", "-n", "shop"]);
        Succeeded(token);
        return Server.WriteKubeconfig(Path.Combine(Scratch, "reader.kubeconfig"), "shop", Credentials.FromToken(token.Stdout.Trim()));
    }

    [Test]
    public async Task Create_token_gives_a_token_that_acts_as_the_service_account()
    {
        var kubectl = Tool("kubectl");
        var reader = await ReaderKubeconfigAsync(kubectl);

        var whoami = await kubectl.RunAsync(["--kubeconfig", reader, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
        var services = await kubectl.RunAsync(["--kubeconfig", reader, "get", "services"]);
        var elsewhere = await kubectl.RunAsync(["--kubeconfig", reader, "get", "services", "-n", "default"]);

        Succeeded(whoami);
        Assert.That(whoami.Stdout, Is.EqualTo("system:serviceaccount:shop:reader"));
        Succeeded(services);
        Assert.That(elsewhere.ExitCode, Is.Not.Zero);
        Assert.That(elsewhere.Stderr, Does.Contain(
            "Error from server (Forbidden): services is forbidden: User \"system:serviceaccount:shop:reader\" cannot list resource \"services\" in API group \"\" in the namespace \"default\""));
    }

    [TestCase("list", "services", "yes")]
    [TestCase("watch", "services", "yes")]
    [TestCase("patch", "services/status", "no")]
    [TestCase("delete", "services", "no")]
    [TestCase("list", "pods", "no")]
    public async Task Auth_can_i_answers_from_the_rules_that_decide_requests(string verb, string resource, string answer)
    {
        var kubectl = Tool("kubectl");
        var reader = await ReaderKubeconfigAsync(kubectl);

        var result = await kubectl.RunAsync(["--kubeconfig", reader, "auth", "can-i", verb, resource]);

        Assert.That(result.Stdout.Trim(), Is.EqualTo(answer), result.ToString());
        Assert.That(result.ExitCode, Is.EqualTo(answer == "yes" ? 0 : 1));
    }

    [Test]
    public async Task Auth_can_i_list_shows_the_rules_of_the_namespace()
    {
        var kubectl = Tool("kubectl");
        var reader = await ReaderKubeconfigAsync(kubectl);

        var list = await kubectl.RunAsync(["--kubeconfig", reader, "auth", "can-i", "--list"]);

        Succeeded(list);
        Assert.That(list.Stdout, Does.Match(@"services\s+\[\]\s+\[\]\s+\[get list watch\]"), list.Stdout);
        Assert.That(list.Stdout, Does.Contain("selfsubjectaccessreviews.authorization.k8s.io"));
        Assert.That(list.Stdout, Does.Contain("/version"));
    }

    [Test]
    public async Task A_client_certificate_kubeconfig_is_the_user_it_names()
    {
        var kubectl = Tool("kubectl");
        var admin = Server.WriteKubeconfig(Path.Combine(Scratch, "ops.kubeconfig"), credentials: Server.IssueClientCertificate("ops", UserInfo.Masters));
        var nobody = Server.WriteKubeconfig(Path.Combine(Scratch, "nobody.kubeconfig"), credentials: Server.IssueClientCertificate("nobody"));

        var whoami = await kubectl.RunAsync(["--kubeconfig", admin, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"]);
        var nodes = await kubectl.RunAsync(["--kubeconfig", admin, "get", "nodes"]);
        var denied = await kubectl.RunAsync(["--kubeconfig", nobody, "get", "nodes"]);

        Succeeded(whoami);
        Assert.That(whoami.Stdout, Does.StartWith("ops [\"system:masters\""));
        Succeeded(nodes);
        Assert.That(denied.Stderr, Does.Contain("nodes is forbidden: User \"nobody\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"));
    }
}
