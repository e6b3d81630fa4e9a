using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class CustomResourceTests : ApiServerFixture
{
    private static JsonObject Widget(string name, JsonObject spec) => new()
    {
        ["apiVersion"] = "test.minilb.io/v1",
        ["kind"] = "Widget",
        ["metadata"] = new JsonObject { ["name"] = name },
        ["spec"] = spec,
    };

    private Task<object> CreateWidget(JsonObject widget, string? fieldValidation = null) =>
        Client.CustomObjects.CreateNamespacedCustomObjectAsync(widget, "test.minilb.io", "v1", "default", "widgets", fieldValidation: fieldValidation);

    private async Task<JsonNode> ReadWidget(string name) =>
        JsonNode.Parse(((JsonElement)await Client.CustomObjects.GetNamespacedCustomObjectAsync("test.minilb.io", "v1", "default", "widgets", name)).GetRawText())!;

    private async Task<JsonNode?> GetJson(string path)
    {
        using var http = new HttpClient { BaseAddress = Server.Uri };
        using var response = await http.GetAsync(path);
        return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonNode>() : null;
    }

    private static string[] Fields(JsonObject status) =>
        [.. status["details"]!["causes"]!.AsArray().Select(c => c!["field"]!.GetValue<string>()).Order()];

    [Test]
    public async Task A_created_CRD_is_discoverable_at_once_and_established()
    {
        await CreateWidgetCrdAsync();

        var groups = await GetJson("/apis");
        var resources = await GetJson("/apis/test.minilb.io/v1");
        var crd = await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("widgets.test.minilb.io");

        Assert.That(groups!["groups"]!.AsArray().Select(g => g!["name"]!.GetValue<string>()), Does.Contain("test.minilb.io"));
        var widgets = resources!["resources"]!.AsArray().Single(r => r!["name"]!.GetValue<string>() == "widgets")!;
        Assert.That(widgets["kind"]!.GetValue<string>(), Is.EqualTo("Widget"));
        Assert.That(widgets["namespaced"]!.GetValue<bool>(), Is.True);
        Assert.That(widgets["shortNames"]!.AsArray().Select(s => s!.GetValue<string>()), Is.EqualTo(new[] { "wdg" }));
        Assert.That(resources["resources"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()), Does.Contain("widgets/status"));
        Assert.That(crd.Status.Conditions.Where(c => c.Status == "True").Select(c => c.Type), Is.EquivalentTo(new[] { "Established", "NamesAccepted" }));
        Assert.That(crd.Status.AcceptedNames.Kind, Is.EqualTo("Widget"));
    }

    [Test]
    public async Task Deleting_a_CRD_removes_its_kind_and_objects()
    {
        await CreateWidgetCrdAsync();
        await CreateWidget(Widget("doomed", new JsonObject { ["color"] = "red" }));

        await Client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync("widgets.test.minilb.io");

        Assert.That(await GetJson("/apis/test.minilb.io/v1"), Is.Null);
        Assert.That(await GetJson("/apis/test.minilb.io/v1/namespaces/default/widgets"), Is.Null);
    }

    [Test]
    public async Task An_invalid_CRD_is_a_422_naming_its_fields()
    {
        var (code, status) = await FailureOf(() => Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(new V1CustomResourceDefinition
        {
            Metadata = new V1ObjectMeta { Name = "wrong.test.minilb.io" },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = "test.minilb.io", Scope = "Everywhere",
                Names = new V1CustomResourceDefinitionNames { Kind = "Thing", Plural = "things" },
                Versions = [new V1CustomResourceDefinitionVersion { Name = "v1", Served = true, Storage = true }],
            },
        }));

        Assert.That(code, Is.EqualTo(422));
        Assert.That(Fields(status), Is.EqualTo(new[] { "metadata.name", "spec.scope" }));
    }

    [Test]
    public async Task Every_schema_rule_is_enforced_with_a_422_naming_each_field()
    {
        await CreateWidgetCrdAsync();

        var (code, status) = await FailureOf(() => CreateWidget(Widget("bad", new JsonObject
        {
            ["color"] = "pink",
            ["size"] = 50,
            ["label"] = "NOT-lower-and-too-long",
            ["tags"] = new JsonArray("a", "b", "c", "d"),
        })));

        Assert.That(code, Is.EqualTo(422));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("Invalid"));
        Assert.That(Fields(status), Is.EqualTo(new[] { "spec.color", "spec.label", "spec.label", "spec.size", "spec.tags" }));
        var messages = status["details"]!["causes"]!.AsArray().Select(c => c!["message"]!.GetValue<string>()).ToList();
        Assert.That(messages, Has.Some.Contains("supported values: \"red\", \"green\", \"blue\""));
        Assert.That(messages, Has.Some.Contains("should be less than or equal to 10"));
        Assert.That(messages, Has.Some.Contains("should match '^[a-z]+$'"));
        Assert.That(status["message"]!.GetValue<string>(), Does.StartWith("Widget.test.minilb.io \"bad\" is invalid: ["));
    }

    [Test]
    public async Task Required_fields_and_types_are_checked()
    {
        await CreateWidgetCrdAsync();

        var (missing, missingStatus) = await FailureOf(() => CreateWidget(Widget("empty", new JsonObject())));
        var (typed, typedStatus) = await FailureOf(() => CreateWidget(Widget("typed", new JsonObject { ["color"] = "red", ["size"] = "big", ["label"] = "" })));

        Assert.That(missing, Is.EqualTo(422));
        Assert.That(missingStatus["details"]!["causes"]![0]!["reason"]!.GetValue<string>(), Is.EqualTo("FieldValueRequired"));
        Assert.That(Fields(missingStatus), Is.EqualTo(new[] { "spec.color" }));
        Assert.That(typed, Is.EqualTo(422));
        Assert.That(Fields(typedStatus), Is.EqualTo(new[] { "spec.label", "spec.label", "spec.size" }));
    }

    [Test]
    public async Task Updates_are_validated_too()
    {
        await CreateWidgetCrdAsync();
        await CreateWidget(Widget("valid", new JsonObject { ["color"] = "red" }));

        var (code, status) = await FailureOf(() => Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"size":0}}""", V1Patch.PatchType.MergePatch), "test.minilb.io", "v1", "default", "widgets", "valid"));

        Assert.That(code, Is.EqualTo(422));
        Assert.That(Fields(status), Is.EqualTo(new[] { "spec.size" }));
        Assert.That((await ReadWidget("valid"))["spec"]!["size"]!.GetValue<long>(), Is.EqualTo(3));
    }

    [Test]
    public async Task Defaults_are_applied_and_unknown_fields_pruned()
    {
        await CreateWidgetCrdAsync();

        await CreateWidget(Widget("defaulted", new JsonObject { ["color"] = "blue", ["unknown"] = "dropped" }));
        var stored = await ReadWidget("defaulted");

        Assert.That(stored["spec"]!["size"]!.GetValue<long>(), Is.EqualTo(3));
        Assert.That(stored["spec"]!.AsObject().ContainsKey("unknown"), Is.False);
    }

    [Test]
    public async Task Strict_field_validation_rejects_unknown_fields()
    {
        await CreateWidgetCrdAsync();

        var (code, status) = await FailureOf(() => CreateWidget(Widget("strict", new JsonObject { ["color"] = "blue", ["unknown"] = 1 }), fieldValidation: "Strict"));

        Assert.That(code, Is.EqualTo(400));
        Assert.That(status["message"]!.GetValue<string>(), Does.Contain("unknown field \"spec.unknown\""));
    }

    [Test]
    public async Task Custom_resources_have_a_status_subresource_and_a_generation()
    {
        await CreateWidgetCrdAsync();
        await CreateWidget(Widget("tracked", new JsonObject { ["color"] = "green" }));

        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"status":{"phase":"Ready","observedGeneration":1}}""", V1Patch.PatchType.MergePatch), "test.minilb.io", "v1", "default", "widgets", "tracked");
        await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"size":4},"status":{"phase":"ignored"}}""", V1Patch.PatchType.MergePatch), "test.minilb.io", "v1", "default", "widgets", "tracked");
        var stored = await ReadWidget("tracked");

        Assert.That(stored["status"]!["phase"]!.GetValue<string>(), Is.EqualTo("Ready"));
        Assert.That(stored["metadata"]!["generation"]!.GetValue<long>(), Is.EqualTo(2));
    }

    [Test]
    public async Task Custom_resources_can_be_watched_from_a_resourceVersion()
    {
        await CreateWidgetCrdAsync();
        var listed = JsonNode.Parse(((JsonElement)await Client.CustomObjects.ListNamespacedCustomObjectAsync("test.minilb.io", "v1", "default", "widgets")).GetRawText())!;
        await CreateWidget(Widget("watched", new JsonObject { ["color"] = "green" }));

        using var deadline = Deadline();
        await using var events = Client.CustomObjects.WatchListNamespacedCustomObjectAsync("test.minilb.io", "v1", "default", "widgets",
            resourceVersion: listed["metadata"]!["resourceVersion"]!.GetValue<string>(), cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var seen = await Take(events, 1);

        Assert.That(seen.Single().Type, Is.EqualTo(WatchEventType.Added));
        Assert.That(((JsonElement)seen.Single().Object).GetProperty("metadata").GetProperty("name").GetString(), Is.EqualTo("watched"));
    }

    [Test]
    public async Task Every_served_version_serves_the_same_objects()
    {
        var yaml = (await File.ReadAllTextAsync(TestData("widgets-crd.yaml"))).Replace("  versions:\n  - name: v1\n", "  versions:\n  - name: v1beta1\n    served: true\n    storage: false\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n  - name: v1\n");
        await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(KubernetesYaml.Deserialize<V1CustomResourceDefinition>(yaml));
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(
            new JsonObject { ["apiVersion"] = "test.minilb.io/v1beta1", ["kind"] = "Widget", ["metadata"] = new JsonObject { ["name"] = "old" }, ["spec"] = new JsonObject { ["color"] = "red" } },
            "test.minilb.io", "v1beta1", "default", "widgets");

        var asV1 = await ReadWidget("old");
        var group = await GetJson("/apis/test.minilb.io");

        Assert.That(asV1["apiVersion"]!.GetValue<string>(), Is.EqualTo("test.minilb.io/v1"));
        Assert.That(group!["versions"]!.AsArray().Select(v => v!["version"]!.GetValue<string>()), Is.EqualTo(new[] { "v1", "v1beta1" }));
        Assert.That(group["preferredVersion"]!["version"]!.GetValue<string>(), Is.EqualTo("v1"));
    }

    [Test]
    public async Task Server_side_apply_on_status_owns_only_status_fields()
    {
        await CreateWidgetCrdAsync();
        await CreateWidget(Widget("applied", new JsonObject { ["color"] = "green" }));
        static V1Patch Status(string status) =>
            new($$"""{"apiVersion":"test.minilb.io/v1","kind":"Widget","metadata":{"name":"applied"},"spec":{"color":"blue"},"status":{{status}}}""", V1Patch.PatchType.ApplyPatch);

        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(Status("""{"phase":"Ready","observedGeneration":1}"""),
            "test.minilb.io", "v1", "default", "widgets", "applied", fieldManager: "minilb", force: true);
        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(Status("""{"phase":"Degraded"}"""),
            "test.minilb.io", "v1", "default", "widgets", "applied", fieldManager: "minilb", force: true);
        var stored = await ReadWidget("applied");

        Assert.That(stored["status"]!.ToJsonString(), Is.EqualTo("""{"phase":"Degraded"}"""), "observedGeneration is no longer applied");
        Assert.That(stored["spec"]!["color"]!.GetValue<string>(), Is.EqualTo("green"), "a status apply leaves spec alone");
        Assert.That(stored["metadata"]!["generation"]!.GetValue<long>(), Is.EqualTo(1));
        var entry = stored["metadata"]!["managedFields"]!.AsArray().Single()!;
        Assert.That((entry["manager"]!.GetValue<string>(), entry["subresource"]!.GetValue<string>()), Is.EqualTo(("minilb", "status")));
    }
}
