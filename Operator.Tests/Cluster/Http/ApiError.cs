using System.Net;
using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>One invalid field of a 422 answer: <c>details.causes[]</c> of a Status.</summary>
public sealed record FieldCause(string Reason, string Field, string Message);

/// <summary>
/// A failed request, answered with a <c>Status</c> body the way kube-apiserver answers it
/// (API conventions, "Response Status Kind").
/// </summary>
public sealed class ApiError(int code, string reason, string message) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public string? Name { get; init; }
    public string? Group { get; init; }
    public string? Kind { get; init; }
    public IReadOnlyList<FieldCause> Causes { get; init; } = [];
    public int? RetryAfterSeconds { get; init; }

    public static ApiError NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{type.QualifiedPlural} \"{name}\" not found") { Name = name, Group = type.Group, Kind = type.Plural };

    public static ApiError AlreadyExists(ResourceType type, string name) =>
        new(409, "AlreadyExists", $"{type.QualifiedPlural} \"{name}\" already exists") { Name = name, Group = type.Group, Kind = type.Plural };

    public static ApiError Conflict(ResourceType type, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {type.QualifiedPlural} \"{name}\": {why}")
        { Name = name, Group = type.Group, Kind = type.Plural };

    public static ApiError Invalid(ResourceType type, string name, IReadOnlyList<FieldCause> causes)
    {
        var listed = string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}"));
        var message = causes.Count == 1
            ? $"{type.Kind}{type.DotGroup} \"{name}\" is invalid: {listed}"
            : $"{type.Kind}{type.DotGroup} \"{name}\" is invalid: [{listed}]";
        return new(422, "Invalid", message) { Name = name, Group = type.Group, Kind = type.Kind, Causes = causes };
    }

    public static ApiError BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiError MethodNotAllowed(string message) => new(405, "MethodNotAllowed", message);

    public static ApiError UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got \"{contentType}\")");

    public static ApiError NoRoute() => new(404, "NotFound", "the server could not find the requested resource");

    public static ApiError Expired(string message) => new(410, "Expired", message);

    /// <summary>The <c>Status</c> object kube-apiserver sends for this error.</summary>
    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
            ["code"] = Code,
        };
        var details = new JsonObject();
        if (Name is not null) details["name"] = Name;
        if (!string.IsNullOrEmpty(Group)) details["group"] = Group;
        if (Kind is not null) details["kind"] = Kind;
        if (Causes.Count > 0)
        {
            details["causes"] = new JsonArray(Causes.Select(c => (JsonNode)new JsonObject
            {
                ["reason"] = c.Reason, ["message"] = c.Message, ["field"] = c.Field,
            }).ToArray());
        }
        if (RetryAfterSeconds is { } seconds) details["retryAfterSeconds"] = seconds;
        if (details.Count > 0) status["details"] = details;
        return status;
    }

    public static string ReasonPhrase(int code) => ((HttpStatusCode)code).ToString();
}
