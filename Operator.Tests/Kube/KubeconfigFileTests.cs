using k8s;
using k8s.Exceptions;
using MiniLb.Operator.Kube;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>The reflection-free kubeconfig reader NativeAOT uses reads what KubernetesClient's own reader reads.</summary>
public sealed class KubeconfigFileTests : ApiServerFixture
{
    [Test]
    public void Reads_the_current_context_as_KubernetesClient_does()
    {
        var path = Path.GetTempFileName();
        try
        {
            Server.WriteKubeconfig(path, "kube-system");
            var expected = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);

            var read = KubeconfigFile.Read(path);

            Assert.That((read.Host.TrimEnd('/'), read.AccessToken, read.Namespace, read.SkipTlsVerify),
                Is.EqualTo((expected.Host.TrimEnd('/'), expected.AccessToken, expected.Namespace, expected.SkipTlsVerify)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void An_exec_plugin_is_refused_by_name()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """
                apiVersion: v1
                kind: Config
                current-context: eks
                contexts: [{name: eks, context: {cluster: c, user: u}}]
                clusters: [{name: c, cluster: {server: "https://192.0.2.1"}}]
                users: [{name: u, user: {exec: {command: aws}}}]
                """);

            var error = Assert.Throws<KubeConfigException>(() => KubeconfigFile.Read(path));

            Assert.That(error!.Message, Does.Contain("user 'u'").And.Contain("exec"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
