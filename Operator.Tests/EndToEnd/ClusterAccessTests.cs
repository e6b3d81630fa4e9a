using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Cluster;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Issue 15: the shipped binary meets the API server the way a real cluster presents it — HTTPS with a cluster CA,
/// a client certificate or a ServiceAccount token, and the chart's RBAC enforced. A TLS or certificate-loading
/// regression in the NativeAOT build fails here.
/// </summary>
public sealed class ClusterAccessTests : OperatorFixture
{
    private const string Namespace = "minilb";
    private const string Account = "minilb";
    private const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    protected override TestApiServerOptions Options => new() { BookmarkInterval = TimeSpan.FromSeconds(1), Https = true, Access = AccessMode.Rbac };

    [Test]
    public async Task Run_with_a_kubeconfig_holding_a_CA_and_an_EC_client_certificate()
    {
        var port = FreePort();
        await CreateConfigAsync(port: port);
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        var kubeconfig = Server.WriteKubeconfig(Path.Combine(Scratch, "minilb.kubeconfig"),
            credentials: Server.IssueClientCertificate("minilb-admin", UserInfo.Masters));
        Assert.That(await File.ReadAllTextAsync(kubeconfig), Does.Contain("certificate-authority-data").And.Contain("client-key-data"));

        await using var run = AotBinary.Start("run", "--kubeconfig", kubeconfig, "--leader-election", "false", "--health-listen", "off");
        await run.WaitForOutputAsync("minilb running");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written over TLS");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "DNS answers");
        Assert.That(await run.StopAsync(), Is.Zero, run.Error);
    }

    [Test]
    public async Task A_kubeconfig_with_another_CA_is_refused_before_any_request()
    {
        await CreateConfigAsync();
        await CreateServiceAsync("default", "web");
        var kubeconfig = Server.WriteKubeconfig(Path.Combine(Scratch, "wrong-ca.kubeconfig"),
            credentials: Server.IssueClientCertificate("minilb-admin", UserInfo.Masters));
        using (var stranger = new CertificateAuthority(TimeProvider.System))
        {
            var ours = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(Server.Authority!.CertificatePem));
            var theirs = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(stranger.CertificatePem));
            await File.WriteAllTextAsync(kubeconfig, (await File.ReadAllTextAsync(kubeconfig)).Replace(ours, theirs, StringComparison.Ordinal));
        }

        await using var run = AotBinary.Start("run", "--kubeconfig", kubeconfig, "--leader-election", "false", "--health-listen", "off");
        await WaitUntilAsync(() => Task.FromResult((run.Output + run.Error).Contains("The SSL connection could not be established", StringComparison.Ordinal)),
            "the TLS failure is in the log", Eventually * 2);

        Assert.That(await HostnameOfAsync("default", "web"), Is.Null, "nothing was written");
        Assert.That(run.Output, Does.Not.Contain("minilb running"));
    }

    [Test]
    public async Task In_cluster_as_the_charts_ServiceAccount_with_its_RBAC_enforced()
    {
        var (port, health) = await InstallChartRbacAsync();
        await Client.CoreV1.CreateNodeAsync(TestObjects.Node("node-a", ["192.168.1.11"], ["10.244.0.0/24"]));
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await using var run = StartInCluster(Server.IssueToken(Namespace, Account), health);
        await run.WaitForOutputAsync("minilb running");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "DNS answers");
        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "HostnameAssigned"), "an event is published");
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)?.Status == "True"
            && (await ReadConfigAsync()).Status?.Routes is [{ Node: "node-a", Via: "192.168.1.11" }], "routes and Ready=True in the MiniLbConfig status");
        var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", Namespace);
        Assert.That(lease.Spec.HolderIdentity, Is.EqualTo("minilb-0"), "leader election through the chart's Role");

        await SetEndpointsAsync("default", "web", "10.244.0.5", "10.244.0.6");
        await CreateServiceAsync("default", "shop");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5", "10.244.0.6"], "a live endpoint edit");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "shop") == "shop.default.minilb", "a new Service gets its hostname");
        Assert.That(run.Output + run.Error, Does.Not.Contain("Forbidden"), "the chart's RBAC grants every call minilb makes");
        // As client-go: the Lease, status writes, events and every watch over one HTTP/2 connection, not one HTTP/1.1 connection each.
        Assert.That(Server.Connections.Where(c => c.Key.User == $"system:serviceaccount:{Namespace}:{Account}").Select(c => c.Value),
            Is.EqualTo(new[] { "HTTP/2" }), "minilb's connections to the API server and their HTTP versions");
        Assert.That(await run.StopAsync(), Is.Zero, run.Error);
    }

    [Test]
    public async Task A_missing_rule_is_reported_once_DNS_keeps_answering_and_minilb_recovers_when_it_is_put_back()
    {
        var (port, health) = await InstallChartRbacAsync();
        await CreateServiceAsync("default", "web");
        await SetEndpointsAsync("default", "web", "10.244.0.5");
        await using var run = StartInCluster(Server.IssueToken(Namespace, Account), health);
        await run.WaitForOutputAsync("minilb running");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");

        var role = await Client.RbacAuthorizationV1.ReadClusterRoleAsync("minilb");
        var complete = role.Rules.ToList();
        role.Rules = complete.Where(r => !r.Resources.Contains("services/status")).ToList();
        await Client.RbacAuthorizationV1.ReplaceClusterRoleAsync(role, "minilb");
        await CreateServiceAsync("default", "shop");
        await SetEndpointsAsync("default", "shop", "10.244.0.7");

        const string Line = "minilb may not patch services/status";
        await WaitUntilAsync(() => Task.FromResult((run.Output + run.Error).Contains(Line, StringComparison.Ordinal)), "one line names the missing verb and resource", Eventually * 2);
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready) is { Status: "False", Reason: "Forbidden" } c
            && c.Message.Contains("patch services/status", StringComparison.Ordinal), "the Ready condition says Forbidden");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var ready = await http.GetAsync($"http://127.0.0.1:{health}/readyz");
        var readyText = await ready.Content.ReadAsStringAsync();
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), "still ready: DNS answers are right, every replica would fail alike");
        Assert.That(readyText, Does.Contain("patch services/status"));
        await WaitUntilAsync(async () => await AddressesAsync(port, "shop.default.minilb") is ["10.244.0.7"], "DNS keeps answering, new Services too");
        await Task.Delay(TimeSpan.FromSeconds(3)); // retries happen meanwhile; they must not repeat the line
        Assert.That(Occurrences(run.Output + run.Error, Line), Is.EqualTo(1), run.Output + run.Error);
        Assert.That(await HostnameOfAsync("default", "shop"), Is.Null);

        role = await Client.RbacAuthorizationV1.ReadClusterRoleAsync("minilb");
        role.Rules = complete;
        await Client.RbacAuthorizationV1.ReplaceClusterRoleAsync(role, "minilb");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "shop") == "shop.default.minilb", "the hostname lands once the rule is back", Eventually * 2);
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)?.Status == "True", "Ready=True again");
        Assert.That(run.Output + run.Error, Does.Contain("Allowed again: patch services/status"));
        TestContext.Out.WriteLine(string.Join('\n', (run.Output + run.Error).Split('\n').Where(l => l.Contains("services/status", StringComparison.Ordinal))));
        Assert.That(await run.StopAsync(), Is.Zero, run.Error);
    }

    [Test]
    public async Task A_rotated_token_is_read_again_and_the_old_one_can_be_revoked()
    {
        var (port, health) = await InstallChartRbacAsync();
        await CreateServiceAsync("default", "web");
        var first = Server.IssueToken(Namespace, Account);
        await using var run = StartInCluster(first, health);
        await run.WaitForOutputAsync("minilb running");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "the hostname is written");

        // As the kubelet does before a projected token expires: a new token in the same file.
        var second = Server.IssueToken(Namespace, Account);
        await File.WriteAllTextAsync(Path.Combine(Scratch, "serviceaccount", "token"), second);
        // KubernetesClient's TokenFileAuth reads the file again once its copy is a minute old (client-go does the same).
        await WaitUntilAsync(() => Task.FromResult(Server.Authenticator.Token(second)?.LastUsed is not null), "minilb uses the new token", TimeSpan.FromSeconds(90));
        Assert.That(Server.RevokeToken(first), Is.True);

        await CreateServiceAsync("default", "after-rotation");
        await SetEndpointsAsync("default", "after-rotation", "10.244.0.8");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "after-rotation") == "after-rotation.default.minilb", "a live edit after the old token is revoked", Eventually * 2);
        await WaitUntilAsync(async () => await AddressesAsync(port, "after-rotation.default.minilb") is ["10.244.0.8"], "DNS follows");
        Assert.That(run.Output + run.Error, Does.Not.Contain("401"));
        Assert.That(await run.StopAsync(), Is.Zero, run.Error);
    }

    /// <summary>
    /// The chart's ServiceAccount and RBAC as `helm template` renders them (not a copy), applied with kubectl; the
    /// MiniLbConfig with a free DNS port. Returns the DNS and health ports.
    /// </summary>
    private async Task<(int Dns, int Health)> InstallChartRbacAsync()
    {
        var helm = Tool("helm");
        var kubectl = Tool("kubectl");
        var rendered = await helm.RunAsync(["template", "minilb", AotBinary.RepositoryFile("charts/minilb"), "--namespace", Namespace,
            "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]);
        Succeeded(rendered);
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new() { Name = Namespace } });
        Succeeded(await kubectl.RunAsync(["apply", "-f", WriteFile("chart-rbac.yaml", rendered.Stdout)]));
        var port = FreePort();
        await CreateConfigAsync(port: port);
        return (port, FreePort());
    }

    /// <summary>
    /// The binary as the chart's pod runs it: KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt and namespace at the
    /// standard path — bind-mounted in a private mount namespace, so the host's /var/run is untouched.
    /// </summary>
    private AotBinary StartInCluster(string token, int health)
    {
        var binary = AotBinary.Locate();
        if (!Environment.IsPrivilegedProcess || CliTool.Locate("unshare") is null)
            Assert.Ignore("the in-cluster tests need root and unshare(1) to bind-mount the ServiceAccount files in a private mount namespace");
        var files = Directory.CreateDirectory(Path.Combine(Scratch, "serviceaccount")).FullName;
        File.WriteAllText(Path.Combine(files, "token"), token);
        File.WriteAllText(Path.Combine(files, "ca.crt"), Server.Authority!.CertificatePem);
        File.WriteAllText(Path.Combine(files, "namespace"), Namespace);
        // Mounts made inside the new namespace only; where /var/run/secrets is missing, a tmpfs over /var/run (there
        // only) gives a place to create it without creating anything on the host.
        var script = $"""
            set -e
            mount --make-rprivate /
            [ -d /var/run/secrets ] || mount -t tmpfs tmpfs "$(readlink -f /var/run)"
            mkdir -p /var/run/secrets
            mount -t tmpfs tmpfs /var/run/secrets
            mkdir -p {ServiceAccountDirectory}
            mount --bind "$0" {ServiceAccountDirectory}
            shift
            exec "$@"
            """;
        var info = new ProcessStartInfo("unshare") { ArgumentList = { "--mount", "sh", "-c", script, files, "sh", binary, "run", "--config", "default",
            "--namespace", Namespace, "--leader-election", "true", "--health-listen", $"127.0.0.1:{health}" } };
        info.Environment["KUBERNETES_SERVICE_HOST"] = "127.0.0.1";
        info.Environment["KUBERNETES_SERVICE_PORT"] = Server.Uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["POD_NAME"] = "minilb-0";
        info.Environment["POD_NAMESPACE"] = Namespace;
        info.Environment.Remove("KUBECONFIG");
        info.Environment["HOME"] = Path.Combine(Scratch, "home");
        return AotBinary.Start(info);
    }

    private static int Occurrences(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
            count++;
        return count;
    }
}
