using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests.Manifests;

/// <summary>Issue 7: the generated CRD refuses invalid MiniLbConfig values before the operator ever sees them.</summary>
public sealed class MiniLbConfigSchemaTests : ApiServerFixture
{
    [SetUp]
    public async Task InstallGeneratedCrd()
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
            await File.ReadAllTextAsync(Path.Combine(TestObjects.RepositoryRoot, "config", "crd", "minilb.io_minilbconfigs.yaml")));
        await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
    }

    private Task<object> Create(string name, JsonObject spec) => Client.CustomObjects.CreateClusterCustomObjectAsync(new JsonObject
    {
        ["apiVersion"] = "minilb.io/v1alpha1",
        ["kind"] = "MiniLbConfig",
        ["metadata"] = new JsonObject { ["name"] = name },
        ["spec"] = spec,
    }, "minilb.io", "v1alpha1", "minilbconfigs");

    private static IEnumerable<TestCaseData> InvalidValues()
    {
        yield return new TestCaseData("domain", JsonValue.Create("")).SetName("{m}(empty domain)");
        yield return new TestCaseData("domain", JsonValue.Create("Home.LAN")).SetName("{m}(upper-case domain)");
        yield return new TestCaseData("domain", JsonValue.Create("-lan.")).SetName("{m}(domain with a leading dash and a trailing dot)");
        yield return new TestCaseData("domain", JsonValue.Create("my_lan")).SetName("{m}(domain with an underscore)");
        yield return new TestCaseData("ttl", JsonValue.Create(0)).SetName("{m}(ttl 0)");
        yield return new TestCaseData("ttl", JsonValue.Create(100000)).SetName("{m}(ttl 100000)");
        yield return new TestCaseData("ttl", JsonValue.Create("five")).SetName("{m}(ttl not a number)");
        yield return new TestCaseData("listen", JsonValue.Create("nonsense")).SetName("{m}(listen nonsense)");
        yield return new TestCaseData("listen", JsonValue.Create("53")).SetName("{m}(listen without a colon)");
        yield return new TestCaseData("listen", JsonValue.Create(":123456")).SetName("{m}(listen port of six digits)");
    }

    [TestCaseSource(nameof(InvalidValues))]
    public async Task An_invalid_value_is_a_422_naming_the_field(string field, JsonValue value)
    {
        var (code, status) = await FailureOf(() => Create("bad", new JsonObject { [field] = value }));

        Assert.That(code, Is.EqualTo(422), status.ToJsonString());
        var causes = status["details"]!["causes"]!.AsArray().Select(c => c!["field"]!.GetValue<string>());
        Assert.That(causes, Has.All.EqualTo($"spec.{field}").And.Not.Empty);
        Assert.That(status["message"]!.GetValue<string>(), Does.Contain("\"bad\"").And.Contain($"spec.{field}"));
        Assert.That(await Client.CustomObjects.ListClusterCustomObjectAsync("minilb.io", "v1alpha1", "minilbconfigs"),
            Is.Not.Null, "the list still works after a refused create");
    }

    [Test]
    public async Task The_values_the_documentation_shows_are_accepted()
    {
        foreach (var (name, listen) in new[] { ("a", ":53"), ("b", "0.0.0.0:53"), ("c", "192.168.1.10:5353"), ("d", "[::]:53") })
            await Create(name, new JsonObject { ["domain"] = "lb.home.arpa", ["ttl"] = 3600, ["listen"] = listen });
        await Create("e", new JsonObject { ["domain"] = "minilb", ["ttl"] = 1 });
    }

    [Test]
    public async Task An_update_to_an_invalid_value_is_refused_and_the_object_keeps_its_last_good_spec()
    {
        await Create("live", new JsonObject { ["domain"] = "lan", ["ttl"] = 5 });
        var patch = new V1Patch("""{"spec":{"ttl":0}}""", V1Patch.PatchType.MergePatch);

        var (code, _) = await FailureOf(() => Client.CustomObjects.PatchClusterCustomObjectAsync(patch, "minilb.io", "v1alpha1", "minilbconfigs", "live"));

        Assert.That(code, Is.EqualTo(422));
        var stored = JsonNode.Parse(((System.Text.Json.JsonElement)await Client.CustomObjects.GetClusterCustomObjectAsync("minilb.io", "v1alpha1", "minilbconfigs", "live")).GetRawText())!;
        Assert.That(stored["spec"]!["ttl"]!.GetValue<int>(), Is.EqualTo(5));
    }
}
