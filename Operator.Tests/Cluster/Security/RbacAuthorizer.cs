using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// What a request asks to do, as kube-apiserver's authorizers see it: a verb on a resource (API group, resource,
/// subresource, name, namespace) or a verb on a non-resource path (<c>/api</c>, <c>/version</c>, …).
/// </summary>
public sealed record RequestAttributes
{
    public required string Verb { get; init; }
    public string Group { get; init; } = "";
    public string? Resource { get; init; }
    public string? Subresource { get; init; }
    public string? Name { get; init; }
    public string? Namespace { get; init; }
    /// <summary>Set for non-resource requests only.</summary>
    public string? Path { get; init; }

    public string ResourceWithSubresource => Subresource is null ? Resource ?? "" : $"{Resource}/{Subresource}";

    /// <summary>The verb a REST call is authorized as (kube-apiserver's RequestInfoFactory).</summary>
    public static string VerbOf(string method, bool hasName, bool watch) => method switch
    {
        "GET" or "HEAD" when watch => "watch",
        "GET" or "HEAD" => hasName ? "get" : "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => hasName ? "delete" : "deletecollection",
        _ => method.ToLowerInvariant(),
    };
}

/// <summary>
/// RBAC as kube-apiserver decides it: the Roles, ClusterRoles and their bindings in the store, read on every
/// request, so an edit takes effect on the next call. <c>system:masters</c> may do anything.
/// Not supported: aggregated ClusterRoles (aggregationRule).
/// </summary>
public sealed class RbacAuthorizer(ObjectStore store)
{
    private const string Rbac = "rbac.authorization.k8s.io";

    public bool Allows(UserInfo user, RequestAttributes request) =>
        user.Groups.Contains(UserInfo.Masters) || RulesFor(user, request.Namespace).Any(rule => Matches(rule, request));

    /// <summary>
    /// Every rule that applies to <paramref name="user"/> in <paramref name="ns"/> (null: cluster-wide ones only,
    /// which is also how non-resource paths are decided: a RoleBinding never grants them).
    /// </summary>
    public IEnumerable<JsonObject> RulesFor(UserInfo user, string? ns)
    {
        foreach (var (_, binding) in store.List($"{Rbac}/clusterrolebindings", null))
        {
            if (!Binds(binding, user)) continue;
            foreach (var rule in RoleRules(binding, null)) yield return rule;
        }
        if (ns is null) yield break;
        foreach (var (_, binding) in store.List($"{Rbac}/rolebindings", ns))
        {
            if (!Binds(binding, user)) continue;
            foreach (var rule in RoleRules(binding, ns)) yield return rule;
        }
    }

    /// <summary>The rules of the role a binding refers to (a missing role grants nothing, as in kube-apiserver).</summary>
    private IEnumerable<JsonObject> RoleRules(JsonObject binding, string? ns)
    {
        var kind = Text(binding["roleRef"]?["kind"]);
        var name = Text(binding["roleRef"]?["name"]) ?? "";
        var role = kind switch
        {
            "ClusterRole" => store.Get($"{Rbac}/clusterroles", null, name),
            "Role" when ns is not null => store.Get($"{Rbac}/roles", ns, name),
            _ => null,
        };
        return (role?["rules"] as JsonArray ?? []).OfType<JsonObject>();
    }

    private static bool Binds(JsonObject binding, UserInfo user) =>
        (binding["subjects"] as JsonArray ?? []).OfType<JsonObject>().Any(subject => Text(subject["kind"]) switch
        {
            "User" => Text(subject["name"]) == user.Name,
            "Group" => user.Groups.Contains(Text(subject["name"]) ?? ""),
            "ServiceAccount" => UserInfo.ServiceAccountName(Text(subject["namespace"]) ?? "", Text(subject["name"]) ?? "") == user.Name,
            _ => false,
        });

    public static bool Matches(JsonObject rule, RequestAttributes request)
    {
        if (!Contains(rule["verbs"], request.Verb)) return false;
        if (request.Path is { } path)
            return (rule["nonResourceURLs"] as JsonArray ?? []).Any(u => Text(u) is { } url
                && (url == "*" || url == path || (url.EndsWith('*') && path.StartsWith(url[..^1], StringComparison.Ordinal))));
        if (!Contains(rule["apiGroups"], request.Group)) return false;
        var resources = Strings(rule["resources"]);
        var resourceMatches = resources.Any(r => r == "*" || r == request.ResourceWithSubresource
            || (request.Subresource is { } sub && r == $"*/{sub}"));
        if (!resourceMatches) return false;
        var names = Strings(rule["resourceNames"]);
        return names.Count == 0 || (request.Name is { } name && names.Contains(name));
    }

    /// <summary>kube-apiserver's 403 message, word for word, so a user's search for it finds the same answers.</summary>
    public static ApiError Forbidden(UserInfo user, RequestAttributes request)
    {
        if (request.Path is { } path)
            return new ApiError(403, "Forbidden", $"forbidden: User \"{user.Name}\" cannot {request.Verb} path \"{path}\"");
        var qualified = request.Group.Length == 0 ? request.Resource : $"{request.Resource}.{request.Group}";
        var subject = request.Name is null ? qualified : $"{qualified} \"{request.Name}\"";
        var scope = request.Namespace is null ? "at the cluster scope" : $"in the namespace \"{request.Namespace}\"";
        return new ApiError(403, "Forbidden",
            $"{subject} is forbidden: User \"{user.Name}\" cannot {request.Verb} resource \"{request.ResourceWithSubresource}\" in API group \"{request.Group}\" {scope}")
        { Name = request.Name, Group = request.Group, Kind = request.Resource };
    }

    /// <summary>The rules of <c>cluster-admin</c>: every verb on every resource and path.</summary>
    public static List<JsonObject> Everything() => [Rule(["*"], ["*"], ["*"]), Rule(["*"], urls: ["*"])];

    private static JsonObject Rule(string[] verbs, string[]? groups = null, string[]? resources = null, string[]? urls = null)
    {
        var rule = new JsonObject { ["verbs"] = Array(verbs) };
        if (groups is not null) rule["apiGroups"] = Array(groups);
        if (resources is not null) rule["resources"] = Array(resources);
        if (urls is not null) rule["nonResourceURLs"] = Array(urls);
        return rule;
    }

    /// <summary>
    /// The bootstrap roles kube-apiserver creates that every cluster relies on: <c>cluster-admin</c> (bound to
    /// <c>system:masters</c>), discovery and health for everyone, and self-reviews (<c>kubectl auth can-i</c>,
    /// <c>whoami</c>) for authenticated users.
    /// </summary>
    public static IEnumerable<(string Plural, JsonObject Object)> BootstrapObjects()
    {
        static JsonObject Role(string name, params JsonObject[] rules) => new()
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["kubernetes.io/bootstrapping"] = "rbac-defaults" } },
            ["rules"] = new JsonArray([.. rules]),
        };
        static JsonObject Binding(string name, params string[] groups) => new()
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["kubernetes.io/bootstrapping"] = "rbac-defaults" } },
            ["roleRef"] = new JsonObject { ["apiGroup"] = Rbac, ["kind"] = "ClusterRole", ["name"] = name },
            ["subjects"] = new JsonArray([.. groups.Select(g => (JsonNode)new JsonObject { ["apiGroup"] = Rbac, ["kind"] = "Group", ["name"] = g })]),
        };
        yield return ("clusterroles", Role("cluster-admin", [.. Everything()]));
        yield return ("clusterrolebindings", Binding("cluster-admin", UserInfo.Masters));
        yield return ("clusterroles", Role("system:discovery", Rule(["get"], urls: ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/"])));
        yield return ("clusterrolebindings", Binding("system:discovery", "system:authenticated"));
        yield return ("clusterroles", Role("system:public-info-viewer", Rule(["get"], urls: ["/healthz", "/livez", "/readyz", "/version", "/version/"])));
        yield return ("clusterrolebindings", Binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"));
        yield return ("clusterroles", Role("system:basic-user",
            Rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            Rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])));
        yield return ("clusterrolebindings", Binding("system:basic-user", "system:authenticated"));
    }

    private static JsonArray Array(string[] values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static bool Contains(JsonNode? list, string value) => Strings(list).Any(v => v == "*" || v == value);

    private static List<string> Strings(JsonNode? list) => (list as JsonArray ?? []).Select(Text).OfType<string>().ToList();

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
