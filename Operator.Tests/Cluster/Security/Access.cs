using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>Who the server lets in: everyone as admin (the default), or kube-apiserver's authentication and RBAC.</summary>
public enum AccessMode
{
    /// <summary>No authentication, no authorization: every request is <see cref="Access.Admin"/>.</summary>
    EveryoneIsAdmin,
    /// <summary>Tokens and client certificates are checked (401), RBAC objects in the store decide (403).</summary>
    Rbac,
}

/// <summary>
/// Authentication and authorization for <see cref="ApiEndpoints"/>, and the API calls that are about them:
/// TokenRequest (<c>serviceaccounts/token</c>, <c>kubectl create token</c>), SelfSubjectAccessReview
/// (<c>kubectl auth can-i</c>), SelfSubjectRulesReview (<c>kubectl auth can-i --list</c>) and SelfSubjectReview
/// (<c>kubectl auth whoami</c>).
/// </summary>
public sealed class Access(AccessMode mode, Authenticator authenticator, RbacAuthorizer rbac, ObjectStore store, TimeProvider time)
{
    /// <summary>The identity of every request when nothing is enforced, and of the server's own admin credentials.</summary>
    public static UserInfo Admin { get; } = new("system:admin", [UserInfo.Masters, "system:authenticated"]);

    private const string UserKey = "minilb.test.user";

    public AccessMode Mode => mode;

    public async Task AuthenticateAsync(HttpContext context) =>
        context.Items[UserKey] = mode == AccessMode.Rbac ? await authenticator.AuthenticateAsync(context) : Admin;

    public static UserInfo UserOf(HttpContext context) => context.Items[UserKey] as UserInfo ?? Admin;

    /// <exception cref="ApiError">403 Forbidden, worded as kube-apiserver words it.</exception>
    public void Authorize(HttpContext context, RequestAttributes request)
    {
        var user = UserOf(context);
        if (!Allows(user, request)) throw RbacAuthorizer.Forbidden(user, request);
    }

    public bool Allows(UserInfo user, RequestAttributes request) => mode != AccessMode.Rbac || rbac.Allows(user, request);

    /// <summary>Answers the review and token calls; false for any other path.</summary>
    public async Task<bool> TryAnswerAsync(HttpContext context, string group, string version, string? ns, string[] rest, Func<Task<JsonObject>> body)
    {
        var post = context.Request.Method == "POST";
        switch (group, version, rest)
        {
            case ("authorization.k8s.io", "v1", ["selfsubjectaccessreviews"]) when post:
                Authorize(context, new RequestAttributes { Verb = "create", Group = group, Resource = "selfsubjectaccessreviews" });
                await HttpAnswers.WriteJsonAsync(context, Review(UserOf(context), await body()), 201);
                return true;
            case ("authorization.k8s.io", "v1", ["selfsubjectrulesreviews"]) when post:
                Authorize(context, new RequestAttributes { Verb = "create", Group = group, Resource = "selfsubjectrulesreviews" });
                await HttpAnswers.WriteJsonAsync(context, Rules(UserOf(context), await body()), 201);
                return true;
            case ("authentication.k8s.io", "v1", ["selfsubjectreviews"]) when post:
                Authorize(context, new RequestAttributes { Verb = "create", Group = group, Resource = "selfsubjectreviews" });
                await HttpAnswers.WriteJsonAsync(context, WhoAmI(UserOf(context)), 201);
                return true;
            case ("", "v1", ["serviceaccounts", var name, "token"]) when post && ns is not null:
                Authorize(context, new RequestAttributes { Verb = "create", Resource = "serviceaccounts", Subresource = "token", Name = name, Namespace = ns });
                await HttpAnswers.WriteJsonAsync(context, TokenRequest(ns, name, await body()), 201);
                return true;
            default:
                return false;
        }
    }

    /// <summary>A SelfSubjectAccessReview answered from the same rules that decide requests.</summary>
    private JsonObject Review(UserInfo user, JsonObject review)
    {
        var spec = review["spec"] as JsonObject ?? [];
        RequestAttributes asked;
        if (spec["resourceAttributes"] is JsonObject r)
        {
            asked = new RequestAttributes
            {
                Verb = Text(r["verb"]) ?? "",
                Group = Text(r["group"]) ?? "",
                Resource = Text(r["resource"]) ?? "",
                Subresource = Text(r["subresource"]) is { Length: > 0 } sub ? sub : null,
                Name = Text(r["name"]) is { Length: > 0 } name ? name : null,
                Namespace = Text(r["namespace"]) is { Length: > 0 } ns ? ns : null,
            };
        }
        else if (spec["nonResourceAttributes"] is JsonObject n)
        {
            asked = new RequestAttributes { Verb = Text(n["verb"]) ?? "", Path = Text(n["path"]) ?? "" };
        }
        else
        {
            throw ApiError.Invalid(new ResourceType
            {
                Group = "authorization.k8s.io", Versions = [new ServedVersion("v1")], Kind = "SelfSubjectAccessReview",
                Plural = "selfsubjectaccessreviews", Singular = "selfsubjectaccessreview", Namespaced = false,
            }, "", [new FieldCause("FieldValueRequired", "spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")]);
        }
        var allowed = Allows(user, asked);
        return new JsonObject
        {
            ["kind"] = "SelfSubjectAccessReview",
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = new JsonObject { ["allowed"] = allowed },
        };
    }

    /// <summary>A SelfSubjectRulesReview (<c>kubectl auth can-i --list</c>): the rules that apply in the namespace, as stored.</summary>
    private JsonObject Rules(UserInfo user, JsonObject review)
    {
        var ns = Text(review["spec"]?["namespace"]) is { Length: > 0 } given ? given : null;
        var rules = mode == AccessMode.Rbac ? rbac.RulesFor(user, ns).ToList() : RbacAuthorizer.Everything();
        static JsonArray Copy(JsonNode? list) => list?.DeepClone() as JsonArray ?? [];
        return new JsonObject
        {
            ["kind"] = "SelfSubjectRulesReview",
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = new JsonObject { ["namespace"] = ns },
            ["status"] = new JsonObject
            {
                ["resourceRules"] = new JsonArray([.. rules.Where(r => r["resources"] is JsonArray).Select(r => (JsonNode)new JsonObject
                {
                    ["verbs"] = Copy(r["verbs"]), ["apiGroups"] = Copy(r["apiGroups"]), ["resources"] = Copy(r["resources"]),
                    ["resourceNames"] = Copy(r["resourceNames"]),
                })]),
                ["nonResourceRules"] = new JsonArray([.. rules.Where(r => r["nonResourceURLs"] is JsonArray).Select(r => (JsonNode)new JsonObject
                {
                    ["verbs"] = Copy(r["verbs"]), ["nonResourceURLs"] = Copy(r["nonResourceURLs"]),
                })]),
                ["incomplete"] = false,
            },
        };
    }

    private static JsonObject WhoAmI(UserInfo user) => new()
    {
        ["kind"] = "SelfSubjectReview",
        ["apiVersion"] = "authentication.k8s.io/v1",
        ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
        ["status"] = new JsonObject
        {
            ["userInfo"] = new JsonObject
            {
                ["username"] = user.Name,
                ["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode)JsonValue.Create(g))]),
            },
        },
    };

    /// <summary>A bound ServiceAccount token, as the TokenRequest API issues it (10 minutes at least, an hour by default).</summary>
    private JsonObject TokenRequest(string ns, string name, JsonObject request)
    {
        if (store.Get("/serviceaccounts", ns, name) is null)
            throw new ApiError(404, "NotFound", $"serviceaccounts \"{name}\" not found") { Name = name, Kind = "serviceaccounts" };
        var seconds = request["spec"]?["expirationSeconds"]?.GetValue<long>() ?? 3600;
        if (seconds < 600)
            throw new ApiError(422, "Invalid", $"TokenRequest.authentication.k8s.io \"{name}\" is invalid: spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes")
            { Name = name, Group = "authentication.k8s.io", Kind = "TokenRequest", Causes = [new("FieldValueInvalid", "spec.expirationSeconds", "may not specify a duration less than 10 minutes")] };
        var lifetime = TimeSpan.FromSeconds(seconds);
        var token = authenticator.Issue(ns, name, lifetime);
        return new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["creationTimestamp"] = null },
            ["spec"] = new JsonObject
            {
                ["audiences"] = request["spec"]?["audiences"]?.DeepClone() ?? new JsonArray("https://kubernetes.default.svc.cluster.local"),
                ["expirationSeconds"] = seconds,
            },
            ["status"] = new JsonObject
            {
                ["token"] = token,
                ["expirationTimestamp"] = (time.GetUtcNow() + lifetime).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            },
        };
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
