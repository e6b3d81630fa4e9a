using System.Text.Json;
using k8s;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>helm v4 (server-side apply by default, release Secrets written in protobuf) against the test server.</summary>
public sealed class HelmTests : CliFixture
{
    private async Task<CliResult> Helm(params string[] args) => await Tool("helm").RunAsync(args);

    private static string Chart => TestData("chart");

    private async Task<string[]> ConfigMapNames(string ns = "default") =>
        [.. (await Client.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.Select(i => i.Metadata.Name)];

    [Test]
    public async Task Install_creates_the_CRD_the_objects_and_the_release_secret()
    {
        var result = await Helm("install", "shop", Chart, "--wait", "--timeout", "60s");

        Succeeded(result);
        var crd = await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("gizmos.test.minilb.io");
        Assert.That(crd.Status.Conditions.Single(c => c.Type == "Established").Status, Is.EqualTo("True"));
        var gizmo = (JsonElement)await Client.CustomObjects.GetClusterCustomObjectAsync("test.minilb.io", "v1", "gizmos", "shop");
        Assert.That(gizmo.GetProperty("spec").GetProperty("ttl").GetInt32(), Is.EqualTo(5), "the CRD's default is applied");
        Assert.That((await Client.CoreV1.ReadNamespacedConfigMapAsync("shop-settings", "default")).Data["greeting"], Is.EqualTo("hello"));
        var service = await Client.CoreV1.ReadNamespacedServiceAsync("shop-web", "default");
        Assert.That(service.Metadata.ManagedFields.Select(f => f.Manager), Does.Contain("helm"), "helm v4 applies server-side");
        var releases = await Client.CoreV1.ListNamespacedSecretAsync("default", labelSelector: "owner=helm,name=shop");
        Assert.That(releases.Items.Select(s => s.Metadata.Name), Is.EqualTo(new[] { "sh.helm.release.v1.shop.v1" }));
        Assert.That(releases.Items.Single().Data["release"], Is.Not.Empty);
    }

    [Test]
    public async Task Upgrade_changes_adds_and_removes_objects()
    {
        Succeeded(await Helm("install", "shop", Chart));

        var added = await Helm("upgrade", "shop", Chart, "--set", "greeting=hi", "--set", "extra=true");
        var afterAdd = await ConfigMapNames();
        var greeting = (await Client.CoreV1.ReadNamespacedConfigMapAsync("shop-settings", "default")).Data["greeting"];
        var removed = await Helm("upgrade", "shop", Chart, "--set", "extra=false");

        Succeeded(added);
        Succeeded(removed);
        Assert.That(afterAdd, Is.EquivalentTo(new[] { "shop-settings", "shop-extra" }));
        Assert.That(await ConfigMapNames(), Is.EquivalentTo(new[] { "shop-settings" }));
        Assert.That(greeting, Is.EqualTo("hi"));
        var history = await Helm("history", "shop");
        Assert.That(history.Stdout, Does.Contain("superseded").And.Contain("deployed"));
        var releases = await Client.CoreV1.ListNamespacedSecretAsync("default", labelSelector: "owner=helm,name=shop");
        Assert.That(releases.Items, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task Uninstall_removes_the_objects_and_the_release_but_keeps_the_CRD()
    {
        Succeeded(await Helm("install", "shop", Chart, "--namespace", "shop", "--create-namespace"));

        var result = await Helm("uninstall", "shop", "--namespace", "shop", "--wait");

        Succeeded(result);
        Assert.That(await ConfigMapNames("shop"), Is.Empty);
        Assert.That((await Client.CoreV1.ListNamespacedServiceAsync("shop")).Items, Is.Empty);
        Assert.That((await Client.CoreV1.ListNamespacedSecretAsync("shop")).Items, Is.Empty);
        Assert.That((await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("gizmos.test.minilb.io")).Metadata.Name, Is.Not.Empty);
        var list = await Helm("list", "--all-namespaces", "--short");
        Assert.That(list.Stdout.Trim(), Is.Empty);
    }
}
