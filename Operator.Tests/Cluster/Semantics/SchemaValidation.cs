using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// Enforces a CRD version's structural <c>openAPIV3Schema</c> the way kube-apiserver does on create and update:
/// nulls of non-nullable fields are dropped, defaults are applied, unknown fields are pruned (reported for
/// <c>fieldValidation=Strict|Warn</c>), then type, required, enum, pattern, minimum/maximum, minLength/maxLength
/// and minItems/maxItems are checked. CEL rules (<c>x-kubernetes-validations</c>) and formats are not checked.
/// </summary>
public sealed class SchemaValidation
{
    private readonly List<FieldCause> _causes = [];
    private readonly List<string> _unknown = [];

    public IReadOnlyList<FieldCause> Causes => _causes;
    public IReadOnlyList<string> UnknownFields => _unknown;

    public static SchemaValidation Run(JsonObject obj, JsonObject schema)
    {
        var validation = new SchemaValidation();
        validation.Object(obj, schema, "", root: true);
        return validation;
    }

    private static bool Flag(JsonObject schema, string name) => schema[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private void Walk(JsonNode? node, JsonObject schema, string path)
    {
        if (Flag(schema, "x-kubernetes-int-or-string"))
        {
            if (node is JsonValue v && v.GetValueKind() is JsonValueKind.String or JsonValueKind.Number) { Common(node, schema, path); return; }
            TypeInvalid(node, path, "integer,string");
            return;
        }
        var type = schema["type"]?.GetValue<string>();
        switch (type)
        {
            case "object":
                if (node is JsonObject obj) Object(obj, schema, path, root: false);
                else TypeInvalid(node, path, "object");
                return;
            case "array":
                if (node is JsonArray array) Array(array, schema, path);
                else TypeInvalid(node, path, "array");
                return;
            case "string":
                if (Kind(node) != JsonValueKind.String) { TypeInvalid(node, path, "string"); return; }
                String(node!.GetValue<string>(), schema, path);
                break;
            case "integer":
                if (Kind(node) != JsonValueKind.Number || !node!.AsValue().TryGetValue<long>(out _))
                {
                    if (!(Kind(node) == JsonValueKind.Number && node!.GetValue<double>() % 1 == 0)) { TypeInvalid(node, path, "integer"); return; }
                }
                Number(node!.GetValue<double>(), node, schema, path);
                break;
            case "number":
                if (Kind(node) != JsonValueKind.Number) { TypeInvalid(node, path, "number"); return; }
                Number(node!.GetValue<double>(), node, schema, path);
                break;
            case "boolean":
                if (Kind(node) is not (JsonValueKind.True or JsonValueKind.False)) { TypeInvalid(node, path, "boolean"); return; }
                break;
        }
        Common(node, schema, path);
    }

    private static JsonValueKind Kind(JsonNode? node) => node?.GetValueKind() ?? JsonValueKind.Null;

    private void Common(JsonNode? node, JsonObject schema, string path)
    {
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, node)))
        {
            var supported = string.Join(", ", allowed.Select(a => a?.ToJsonString()));
            _causes.Add(new("FieldValueNotSupported", path, $"Unsupported value: {node?.ToJsonString() ?? "null"}: supported values: {supported}"));
        }
    }

    private void Object(JsonObject obj, JsonObject schema, string path, bool root)
    {
        var properties = schema["properties"] as JsonObject;
        var preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields") || Flag(schema, "x-kubernetes-embedded-resource");
        foreach (var (key, value) in obj.ToList())
        {
            var child = properties?[key] as JsonObject;
            if (value is null && !(child is not null && Flag(child, "nullable"))) obj.Remove(key);
        }
        if (properties is not null)
        {
            foreach (var (key, property) in properties)
            {
                if (!obj.ContainsKey(key) && property?["default"] is { } fallback) obj[key] = fallback.DeepClone();
            }
        }
        foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r!.GetValue<string>()))
        {
            if (!obj.ContainsKey(required)) _causes.Add(new("FieldValueRequired", Join(path, required), "Required value"));
        }
        foreach (var (key, value) in obj.ToList())
        {
            var childPath = Join(path, key);
            if (root && key is "apiVersion" or "kind" or "metadata") continue;
            if (properties?[key] is JsonObject property)
            {
                if (value is not null) Walk(value, property, childPath);
            }
            else if (schema["additionalProperties"] is JsonObject additional)
            {
                if (value is not null) Walk(value, additional, childPath);
            }
            else if (!preserve && !(schema["additionalProperties"] is JsonValue allow && allow.GetValue<bool>()))
            {
                _unknown.Add(childPath);
                obj.Remove(key);
            }
        }
    }

    private void Array(JsonArray array, JsonObject schema, string path)
    {
        if (schema["minItems"]?.GetValue<long>() is { } min && array.Count < min)
            Invalid(array, path, $"{path} in body should have at least {min} items");
        if (schema["maxItems"]?.GetValue<long>() is { } max && array.Count > max)
            _causes.Add(new("FieldValueTooMany", path, $"Too many: {array.Count}: must have at most {max} items"));
        if (schema["items"] is JsonObject items)
            for (var i = 0; i < array.Count; i++) Walk(array[i], items, $"{path}[{i}]");
    }

    private void String(string value, JsonObject schema, string path)
    {
        if (schema["minLength"]?.GetValue<long>() is { } min && value.Length < min)
            Invalid(JsonValue.Create(value), path, $"{path} in body should be at least {min} chars long");
        if (schema["maxLength"]?.GetValue<long>() is { } max && value.Length > max)
            _causes.Add(new("FieldValueTooLong", path, $"Too long: may not be more than {max} bytes"));
        if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(value, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
            Invalid(JsonValue.Create(value), path, $"{path} in body should match '{pattern}'");
    }

    private void Number(double value, JsonNode? node, JsonObject schema, string path)
    {
        if (schema["minimum"]?.GetValue<double>() is { } min)
        {
            var exclusive = Flag(schema, "exclusiveMinimum");
            if (exclusive ? value <= min : value < min)
                Invalid(node, path, $"{path} in body should be greater than {(exclusive ? "" : "or equal to ")}{Render(schema["minimum"])}");
        }
        if (schema["maximum"]?.GetValue<double>() is { } max)
        {
            var exclusive = Flag(schema, "exclusiveMaximum");
            if (exclusive ? value >= max : value > max)
                Invalid(node, path, $"{path} in body should be less than {(exclusive ? "" : "or equal to ")}{Render(schema["maximum"])}");
        }
    }

    private static string Render(JsonNode? node) => node?.ToJsonString() ?? "null";

    private void Invalid(JsonNode? value, string path, string why) =>
        _causes.Add(new("FieldValueInvalid", path, $"Invalid value: {Render(value)}: {why}"));

    private void TypeInvalid(JsonNode? value, string path, string type) =>
        _causes.Add(new("FieldValueTypeInvalid", path, $"Invalid value: {Render(value)}: {path} in body must be of type {type}: {Render(value)}"));

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
}
