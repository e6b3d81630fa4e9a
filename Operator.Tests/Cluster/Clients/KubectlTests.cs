using k8s;
using k8s.Models;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class KubectlTests : CliFixture
{
    private const string Manifests = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: demo
          labels: {app: demo}
        data:
          greeting: hello
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          type: LoadBalancer
          loadBalancerClass: minilb
          selector: {app: web}
          ports:
          - name: http
            port: 80
            targetPort: 8080
        """;

    private const string Widget = """
        apiVersion: test.minilb.io/v1
        kind: Widget
        metadata:
          name: sprocket
        spec:
          color: red
          label: gear
        """;

    private async Task<CliResult> Kubectl(params string[] args) => await Tool("kubectl").RunAsync(args);

    [Test]
    public async Task Apply_creates_then_configures_the_objects()
    {
        var file = WriteFile("demo.yaml", Manifests);

        var first = await Kubectl("apply", "-f", file);
        var changed = WriteFile("demo.yaml", Manifests.Replace("greeting: hello", "greeting: bonjour"));
        var second = await Kubectl("apply", "-f", changed);

        Succeeded(first);
        Succeeded(second);
        Assert.That(first.Stdout, Does.Contain("configmap/demo created").And.Contain("service/web created"));
        Assert.That(second.Stdout, Does.Contain("configmap/demo configured").And.Contain("service/web unchanged"));
        var stored = await Client.CoreV1.ReadNamespacedConfigMapAsync("demo", "default");
        Assert.That(stored.Data["greeting"], Is.EqualTo("bonjour"));
    }

    [Test]
    public async Task Get_as_yaml_shows_the_stored_object()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "shown" }, Data = new Dictionary<string, string> { ["answer"] = "42" },
        }, "default");

        var result = await Kubectl("get", "configmap", "shown", "-o", "yaml");

        Succeeded(result);
        Assert.That(result.Stdout, Does.Contain($"uid: {created.Metadata.Uid}").And.Contain("answer: \"42\"").And.Contain("kind: ConfigMap"));
    }

    [Test]
    public async Task Patch_with_a_merge_patch_changes_the_object()
    {
        Succeeded(await Kubectl("apply", "-f", WriteFile("demo.yaml", Manifests)));

        var result = await Kubectl("patch", "service", "web", "--type", "merge", "-p", """{"metadata":{"annotations":{"minilb/host":"shop"}}}""");

        Succeeded(result);
        var stored = await Client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        Assert.That(stored.Metadata.Annotations["minilb/host"], Is.EqualTo("shop"));
    }

    [Test]
    public async Task Patch_of_the_status_subresource_changes_status()
    {
        Succeeded(await Kubectl("apply", "-f", WriteFile("demo.yaml", Manifests)));

        var result = await Kubectl("patch", "service", "web", "--subresource", "status", "--type", "merge",
            "-p", """{"status":{"loadBalancer":{"ingress":[{"hostname":"web.default.minilb"}]}}}""");

        Succeeded(result);
        var stored = await Client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        Assert.That(stored.Status.LoadBalancer.Ingress.Single().Hostname, Is.EqualTo("web.default.minilb"));
    }

    [Test]
    public async Task Get_of_services_shows_the_load_balancer_hostname()
    {
        Succeeded(await Kubectl("apply", "-f", WriteFile("demo.yaml", Manifests)));
        Succeeded(await Kubectl("patch", "service", "web", "--subresource", "status", "--type", "merge",
            "-p", """{"status":{"loadBalancer":{"ingress":[{"hostname":"web.default.minilb"}]}}}"""));

        var result = await Kubectl("get", "services", "--no-headers");

        Succeeded(result);
        var cells = result.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(cells[..2], Is.EqualTo(new[] { "web", "LoadBalancer" }));
        Assert.That(cells[3], Is.EqualTo("web.default.minilb"));
    }

    [Test]
    public async Task Delete_removes_the_object()
    {
        Succeeded(await Kubectl("apply", "-f", WriteFile("demo.yaml", Manifests)));

        var result = await Kubectl("delete", "configmap", "demo");

        Succeeded(result);
        var remaining = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        Assert.That(remaining.Items.Select(i => i.Metadata.Name), Does.Not.Contain("demo"));
    }

    [Test]
    public async Task Edit_with_a_scripted_editor_saves_the_change()
    {
        Succeeded(await Kubectl("apply", "-f", WriteFile("demo.yaml", Manifests)));
        var editor = WriteFile("editor.sh", "#!/bin/sh\nsed -i 's/greeting: hello/greeting: edited/' \"$1\"\n");

        var result = await Tool("kubectl").RunAsync(["edit", "configmap", "demo"], new Dictionary<string, string> { ["KUBE_EDITOR"] = $"sh {editor}" });

        Succeeded(result);
        Assert.That(result.Stdout, Does.Contain("configmap/demo edited"));
        var stored = await Client.CoreV1.ReadNamespacedConfigMapAsync("demo", "default");
        Assert.That(stored.Data["greeting"], Is.EqualTo("edited"));
    }

    [Test]
    public async Task Get_of_a_custom_resource_prints_its_printer_columns()
    {
        Succeeded(await Kubectl("apply", "-f", TestData("widgets-crd.yaml")));
        Succeeded(await Kubectl("apply", "-f", WriteFile("widget.yaml", Widget)));

        var table = await Kubectl("get", "widgets");
        var byShortName = await Kubectl("get", "wdg", "sprocket", "--no-headers");

        Succeeded(table);
        var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "NAME", "COLOR", "SIZE", "PHASE", "AGE" }));
        Assert.That(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..3], Is.EqualTo(new[] { "sprocket", "red", "3" }), "size 3 is the schema default");
        Succeeded(byShortName);
        Assert.That(byShortName.Stdout, Does.StartWith("sprocket"));
    }

    [Test]
    public async Task Wait_for_a_CRD_to_be_established_returns_at_once()
    {
        Succeeded(await Kubectl("apply", "-f", TestData("widgets-crd.yaml")));

        var result = await Kubectl("wait", "--for", "condition=Established", "crd/widgets.test.minilb.io", "--timeout", "30s");

        Succeeded(result);
    }

    [Test]
    public async Task Apply_server_side_creates_and_records_the_field_manager()
    {
        var file = WriteFile("demo.yaml", Manifests);

        var first = await Kubectl("apply", "--server-side", "-f", file);
        var again = await Kubectl("apply", "--server-side", "-f", WriteFile("demo.yaml", Manifests.Replace("greeting: hello", "greeting: hallo")));

        Succeeded(first);
        Succeeded(again);
        Assert.That(first.Stdout, Does.Contain("configmap/demo serverside-applied"));
        var stored = await Client.CoreV1.ReadNamespacedConfigMapAsync("demo", "default");
        Assert.That(stored.Data["greeting"], Is.EqualTo("hallo"));
        Assert.That(stored.Metadata.ManagedFields.Select(f => f.Manager), Does.Contain("kubectl"));
    }

    [Test]
    public async Task Apply_of_an_invalid_custom_resource_reports_each_field()
    {
        Succeeded(await Kubectl("apply", "-f", TestData("widgets-crd.yaml")));

        var result = await Kubectl("apply", "-f", WriteFile("bad.yaml", Widget.Replace("color: red", "color: pink").Replace("label: gear", "label: GEAR")));

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain("spec.color").And.Contain("spec.label").And.Contain("is invalid"));
    }

    [Test]
    public async Task Get_of_an_unknown_kind_says_so()
    {
        var result = await Kubectl("get", "gizmos");

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain("the server doesn't have a resource type \"gizmos\""));
    }

    [Test]
    public async Task Explain_describes_a_custom_resource_from_its_schema()
    {
        Succeeded(await Kubectl("apply", "-f", TestData("widgets-crd.yaml")));

        var result = await Kubectl("explain", "widget.spec");

        Succeeded(result);
        Assert.That(result.Stdout, Does.Contain("color").And.Contain("size"));
    }
}
