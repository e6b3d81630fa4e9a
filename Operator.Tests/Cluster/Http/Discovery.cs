using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// The legacy (unaggregated) discovery documents. Clients that ask for aggregated discovery
/// (<c>apidiscovery.k8s.io/v2</c>) get these as plain <c>application/json</c> and fall back, as client-go does.
/// </summary>
public static class Discovery
{
    public const string GitVersion = "v1.34.0";

    public static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "34",
        ["gitVersion"] = GitVersion,
        ["gitCommit"] = "0000000000000000000000000000000000000000",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2025-08-27T00:00:00Z",
        ["goVersion"] = "go1.24.6",
        ["compiler"] = "gc",
        ["platform"] = "linux/amd64",
    };

    public static JsonObject CoreVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    public static JsonObject GroupList(ResourceRegistry registry) => new()
    {
        ["kind"] = "APIGroupList",
        ["apiVersion"] = "v1",
        ["groups"] = new JsonArray([.. registry.Groups().Select(g => (JsonNode)Group(g.Group, g.Versions))]),
    };

    public static JsonObject? Group(ResourceRegistry registry, string group)
    {
        var found = registry.Groups().FirstOrDefault(g => g.Group == group);
        if (found.Group is null) return null;
        var doc = Group(found.Group, found.Versions);
        doc["kind"] = "APIGroup";
        doc["apiVersion"] = "v1";
        return doc;
    }

    private static JsonObject Group(string group, IReadOnlyList<string> versions) => new()
    {
        ["name"] = group,
        ["versions"] = new JsonArray([.. versions.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{group}/{v}", ["version"] = v })]),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{group}/{versions[0]}", ["version"] = versions[0] },
    };

    public static JsonObject? ResourceList(ResourceRegistry registry, string group, string version)
    {
        var types = registry.All.Where(t => t.Group == group && t.Version(version) is not null).OrderBy(t => t.Plural, StringComparer.Ordinal).ToList();
        if (types.Count == 0 && !(group.Length == 0 && version == "v1")) return null;
        var resources = new JsonArray();
        foreach (var type in types)
        {
            var entry = new JsonObject
            {
                ["name"] = type.Plural,
                ["singularName"] = type.Singular,
                ["namespaced"] = type.Namespaced,
                ["kind"] = type.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
            };
            if (type.ShortNames.Count > 0) entry["shortNames"] = new JsonArray([.. type.ShortNames.Select(s => (JsonNode)JsonValue.Create(s)!)]);
            if (type.Categories.Count > 0) entry["categories"] = new JsonArray([.. type.Categories.Select(s => (JsonNode)JsonValue.Create(s)!)]);
            resources.Add(entry);
            if (type.HasStatus(version))
            {
                resources.Add(new JsonObject
                {
                    ["name"] = type.Plural + "/status",
                    ["singularName"] = "",
                    ["namespaced"] = type.Namespaced,
                    ["kind"] = type.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    /// <summary>
    /// OpenAPI v3 discovery: one document per group-version. Each lists a PATCH path per kind declaring the
    /// <c>fieldValidation</c> and <c>dryRun</c> parameters (so kubectl leaves validation to the server) and,
    /// for CRDs, the schema (so <c>kubectl explain</c> works). Built-in schemas are not served.
    /// </summary>
    public static JsonObject OpenApiV3Root(ResourceRegistry registry)
    {
        var paths = new JsonObject();
        foreach (var gv in GroupVersions(registry))
            paths[gv] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{gv}?hash={registry.Generation}" };
        return new JsonObject { ["paths"] = paths };
    }

    /// <summary>
    /// An empty OpenAPI v2 document in the protobuf encoding kubectl insists on (gnostic <c>openapi_v2.Document</c>:
    /// swagger = 1, info = 2 with title = 1 and version = 2, paths = 8). kubectl finds no schema in it and
    /// skips client-side validation; the server validates (<c>fieldValidation</c>).
    /// </summary>
    public static byte[] OpenApiV2Protobuf()
    {
        static byte[] Field(int number, byte[] payload) => [(byte)((number << 3) | 2), (byte)payload.Length, .. payload];
        static byte[] Text(string value) => System.Text.Encoding.UTF8.GetBytes(value);
        var info = Field(1, Text("Kubernetes")).Concat(Field(2, Text(GitVersion))).ToArray();
        return [.. Field(1, Text("2.0")), .. Field(2, info), .. Field(8, [])];
    }

    private static IEnumerable<string> GroupVersions(ResourceRegistry registry) =>
        registry.All.SelectMany(t => t.Versions.Select(v => t.Group.Length == 0 ? $"api/{v.Name}" : $"apis/{t.Group}/{v.Name}")).Distinct();

    public static JsonObject? OpenApiV3(ResourceRegistry registry, string groupVersionPath)
    {
        var parts = groupVersionPath.Split('/');
        var (group, version) = parts switch
        {
            ["api", var v] => ("", v),
            ["apis", var g, var v] => (g, v),
            _ => (null, null),
        };
        if (group is null || version is null) return null;
        var types = registry.All.Where(t => t.Group == group && t.Version(version) is not null).ToList();
        if (types.Count == 0) return null;
        var paths = new JsonObject();
        var schemas = new JsonObject();
        foreach (var type in types)
        {
            var gvk = new JsonObject { ["group"] = group, ["version"] = version, ["kind"] = type.Kind };
            var prefix = group.Length == 0 ? $"/api/{version}" : $"/apis/{group}/{version}";
            var path = type.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{type.Plural}/{{name}}" : $"{prefix}/{type.Plural}/{{name}}";
            var schemaName = $"{ReverseDomain(group)}.{version}.{type.Kind}";
            var reference = new JsonObject { ["$ref"] = $"#/components/schemas/{schemaName}" };
            paths[path] = new JsonObject
            {
                ["parameters"] = new JsonArray(Parameter("dryRun"), Parameter("fieldManager"), Parameter("fieldValidation")),
                ["get"] = Operation(gvk, "read", reference),
                ["put"] = Operation(gvk, "replace", reference),
                ["patch"] = Operation(gvk, "patch", reference),
                ["delete"] = Operation(gvk, "delete", null),
            };
            var schema = type.Version(version)?.Schema?.DeepClone() as JsonObject ?? new JsonObject
            {
                ["type"] = "object",
                ["description"] = $"{type.Kind} (schema not served by the test API server)",
                ["x-kubernetes-preserve-unknown-fields"] = true,
            };
            schema["x-kubernetes-group-version-kind"] = new JsonArray(gvk.DeepClone());
            schemas[schemaName] = schema;
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = GitVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    private static string ReverseDomain(string group) =>
        group.Length == 0 ? "io.k8s.api.core" : string.Join('.', group.Split('.').Reverse());

    private static JsonObject Parameter(string name) => new()
    {
        ["name"] = name,
        ["in"] = "query",
        ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true },
    };

    private static JsonObject Operation(JsonObject gvk, string action, JsonObject? reference)
    {
        var operation = new JsonObject
        {
            ["x-kubernetes-action"] = action == "read" ? "get" : action == "replace" ? "put" : action,
            ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "OK",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = reference?.DeepClone() ?? new JsonObject() } },
                },
            },
        };
        return operation;
    }
}
