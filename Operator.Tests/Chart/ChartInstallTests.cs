using k8s;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests.Chart;

/// <summary>The README's install path, against the test API server: helm install, read the MiniLbConfig, helm uninstall.</summary>
public sealed class ChartInstallTests : CliFixture
{
    [Test]
    public async Task Install_read_the_MiniLbConfig_and_uninstall()
    {
        var helm = Tool("helm");
        var kubectl = Tool("kubectl");

        var install = await helm.RunAsync(["install", "minilb", HelmChart.ChartDirectory, "--namespace", HelmChart.Namespace, "--create-namespace"]);
        Assert.That(install.ExitCode, Is.Zero, install.ToString());
        Assert.That(install.Stdout, Does.Contain("kubectl get minilbconfig default -o yaml"), "NOTES.txt says how to read the routes");

        var config = await kubectl.RunAsync(["get", "minilbconfig", "default", "-o", "yaml"]);
        Assert.That(config.ExitCode, Is.Zero, config.ToString());
        Assert.That(config.Stdout, Does.Contain("kind: MiniLbConfig").And.Contain("domain: minilb").And.Contain("ttl: 5"));
        var deployment = await Client.AppsV1.ReadNamespacedDeploymentAsync("minilb", HelmChart.Namespace);
        Assert.That(deployment.Spec.Template.Spec.Containers[0].Args, Does.Contain("run"));

        var uninstall = await helm.RunAsync(["uninstall", "minilb", "--namespace", HelmChart.Namespace]);
        Assert.That(uninstall.ExitCode, Is.Zero, uninstall.ToString());
        var gone = await kubectl.RunAsync(["get", "minilbconfig", "default"]);
        Assert.That(gone.ExitCode, Is.Not.Zero, "the MiniLbConfig goes with the release");
        Assert.That(gone.Stderr, Does.Contain("NotFound").Or.Contain("not found"));
        Assert.That((await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("minilbconfigs.minilb.io")).Metadata.Name,
            Is.EqualTo("minilbconfigs.minilb.io"), "helm keeps CRDs on uninstall");
    }

    [Test]
    public async Task Install_without_the_CRD_as_the_original_minilb_runs()
    {
        var helm = Tool("helm");

        var install = await helm.RunAsync(["install", "minilb", HelmChart.ChartDirectory, "--namespace", HelmChart.Namespace, "--create-namespace",
            "--skip-crds", "--set", "config.create=false", "--set", "config.domain=lan"]);

        Assert.That(install.ExitCode, Is.Zero, install.ToString());
        Assert.That(install.Stdout, Does.Contain("runs on the flags"), "NOTES.txt says where the settings come from");
        var crds = await Client.ApiextensionsV1.ListCustomResourceDefinitionAsync();
        Assert.That(crds.Items.Select(c => c.Metadata.Name), Does.Not.Contain("minilbconfigs.minilb.io"));
        var deployment = await Client.AppsV1.ReadNamespacedDeploymentAsync("minilb", HelmChart.Namespace);
        Assert.That(string.Join(" ", deployment.Spec.Template.Spec.Containers[0].Args), Does.Contain("--domain lan"));
    }
}
