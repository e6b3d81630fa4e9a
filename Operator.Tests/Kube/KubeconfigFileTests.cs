using k8s;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>The reflection-free kubeconfig reader the NativeAOT binary depends on.</summary>
public sealed class KubeconfigFileTests
{
    private string directory = null!;

    [SetUp]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("minilb-kubeconfig-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(directory, recursive: true);

    [Test]
    public void The_current_context_picks_server_user_and_namespace()
    {
        var path = Write("""
            apiVersion: v1
            kind: Config
            current-context: lab
            clusters:
            - name: other
              cluster: {server: "https://10.0.0.1:6443"}
            - name: lab
              cluster:
                server: https://192.168.1.10:6443
                insecure-skip-tls-verify: true
            users:
            - name: admin
              user:
                token: abc123
            contexts:
            - name: lab
              context: {cluster: lab, user: admin, namespace: minilb-system}
            """);

        var configuration = KubernetesClientConfiguration.BuildConfigFromConfigObject(KubeconfigFile.Read(path));

        Assert.That(configuration.Host, Does.StartWith("https://192.168.1.10:6443"));
        Assert.That(configuration.AccessToken, Is.EqualTo("abc123"));
        Assert.That(configuration.Namespace, Is.EqualTo("minilb-system"));
        Assert.That(configuration.SkipTlsVerify, Is.True);
    }

    [Test]
    public void An_exec_plugin_keeps_its_command_arguments_and_environment()
    {
        var path = Write("""
            users:
            - name: cloud
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: get-token
                  args: [--cluster, lab]
                  env:
                  - {name: REGION, value: home}
            """);

        var exec = KubeconfigFile.Read(path).Users.Single().UserCredentials.ExternalExecution;

        Assert.That(exec.Command, Is.EqualTo("get-token"));
        Assert.That(exec.Arguments, Is.EqualTo(new[] { "--cluster", "lab" }));
        Assert.That(exec.EnvironmentVariables.Single()["value"], Is.EqualTo("home"));
        Assert.That(exec.ApiVersion, Is.EqualTo("client.authentication.k8s.io/v1"));
    }

    [TestCase("clusters: {name: x}", "clusters: expected a list")]
    [TestCase("clusters:\n- cluster: {server: https://x}", "clusters[0]: missing field 'name'")]
    [TestCase("users:\n- name: u\n  user: {exec: {command: c, args: oops}}", "users[0].user.exec.args: expected a list")]
    [TestCase("clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: maybe}", "clusters[0].cluster.insecure-skip-tls-verify: expected true or false, found 'maybe'")]
    [TestCase("clusters: [", "malformed YAML")]
    public void A_malformed_kubeconfig_names_the_field(string text, string message)
    {
        var path = Write(text);

        Assert.That(() => KubeconfigFile.Read(path), Throws.TypeOf<ClusterConnectionException>().With.Message.Contains(message));
    }

    private string Write(string text)
    {
        var path = Path.Combine(directory, "config");
        File.WriteAllText(path, text);
        return path;
    }
}
