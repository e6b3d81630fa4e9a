using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using k8s.Models;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Manifests;

/// <summary>
/// Builds a CustomResourceDefinition from an attributed entity type, as KubeOps' transpiler does: the type's
/// properties become the openAPIV3Schema, its schema attributes the validation and `kubectl explain` text.
/// </summary>
public static class CrdGenerator
{
    private const DynamicallyAccessedMemberTypes Members = DynamicallyAccessedMemberTypes.PublicProperties;

    public static V1CustomResourceDefinition Generate([DynamicallyAccessedMembers(Members)] Type entityType)
    {
        var entity = entityType.GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{entityType.Name} has no [KubernetesEntity] attribute", nameof(entityType));
        var plural = string.IsNullOrEmpty(entity.PluralName) ? entity.Kind.ToLowerInvariant() + "s" : entity.PluralName;
        var scope = entityType.GetCustomAttribute<EntityScopeAttribute>()?.Scope ?? EntityScope.Namespaced;
        var spec = entityType.GetProperty("Spec");
        var status = entityType.GetProperty("Status");

        var root = new V1JSONSchemaProps
        {
            Type = "object",
            Description = entityType.GetCustomAttribute<DescriptionAttribute>()?.Text,
            Properties = new Dictionary<string, V1JSONSchemaProps>
            {
                ["apiVersion"] = new() { Type = "string", Description = "APIVersion defines the versioned schema of this representation of an object." },
                ["kind"] = new() { Type = "string", Description = "Kind is a string value representing the REST resource this object represents." },
                ["metadata"] = new() { Type = "object" },
            },
        };
        if (spec is not null)
        {
            var specSchema = SchemaOf(spec.PropertyType);
            specSchema.Description ??= $"The desired state of the {entity.Kind}.";
            // With `default: {}` an object created without a spec still gets every field's default.
            if (specSchema.Properties?.Values.Any(p => p.DefaultProperty is not null) == true)
                specSchema.DefaultProperty = new Dictionary<string, object>();
            root.Properties["spec"] = specSchema;
        }
        if (status is not null)
        {
            var statusSchema = SchemaOf(status.PropertyType);
            statusSchema.Description ??= $"The observed state of the {entity.Kind}, written by the operator.";
            root.Properties["status"] = statusSchema;
        }

        return new V1CustomResourceDefinition
        {
            ApiVersion = "apiextensions.k8s.io/v1",
            Kind = "CustomResourceDefinition",
            Metadata = new V1ObjectMeta { Name = $"{plural}.{entity.Group}" },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = entity.Group,
                Scope = scope.ToString(),
                Names = new V1CustomResourceDefinitionNames
                {
                    Kind = entity.Kind,
                    ListKind = entity.Kind + "List",
                    Plural = plural,
                    Singular = entity.Kind.ToLowerInvariant(),
                    ShortNames = entityType.GetCustomAttribute<ShortNamesAttribute>()?.Names.ToList(),
                },
                Versions =
                [
                    new V1CustomResourceDefinitionVersion
                    {
                        Name = entity.ApiVersion,
                        Served = true,
                        Storage = true,
                        Schema = new V1CustomResourceValidation { OpenAPIV3Schema = root },
                        Subresources = status is null ? null : new V1CustomResourceSubresources { Status = new Dictionary<string, object>() },
                        AdditionalPrinterColumns = PrinterColumns(entityType, spec, status),
                    },
                ],
            },
        };
    }

    [UnconditionalSuppressMessage("Trimming", "IL2067", Justification = "Entity property types are kept by the DynamicDependency on ManifestSet.Generate.")]
    private static V1JSONSchemaProps SchemaOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
            return new() { Type = "string" };
        if (type == typeof(bool))
            return new() { Type = "boolean" };
        if (type == typeof(int))
            return new() { Type = "integer", Format = "int32" };
        if (type == typeof(long))
            return new() { Type = "integer", Format = "int64" };
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
            return new() { Type = "number" };
        if (type == typeof(DateTime) || type == typeof(DateTimeOffset))
            return new() { Type = "string", Format = "date-time" };
        if (type.IsEnum)
            return new() { Type = "string", EnumProperty = Enum.GetNames(type).Cast<object>().ToList() };
        if (DictionaryValue(type) is { } value)
            return new() { Type = "object", AdditionalProperties = SchemaOf(value) };
        if (ItemType(type) is { } item)
            return new() { Type = "array", Items = SchemaOf(item) };
        return ObjectSchema(type);
    }

    private static V1JSONSchemaProps ObjectSchema([DynamicallyAccessedMembers(Members)] Type type)
    {
        var properties = new Dictionary<string, V1JSONSchemaProps>();
        var required = new List<string>();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonIgnoreAttribute>() is not null)
                continue;
            var name = JsonName(property);
            var schema = SchemaOf(property.PropertyType);
            Annotate(schema, property);
            properties[name] = schema;
            if (property.GetCustomAttribute<RequiredAttribute>() is not null)
                required.Add(name);
        }
        return new V1JSONSchemaProps
        {
            Type = "object",
            Description = type.GetCustomAttribute<DescriptionAttribute>()?.Text,
            Properties = properties,
            Required = required.Count > 0 ? required : null,
        };
    }

    private static void Annotate(V1JSONSchemaProps schema, PropertyInfo property)
    {
        schema.Description = property.GetCustomAttribute<DescriptionAttribute>()?.Text ?? schema.Description;
        if (property.GetCustomAttribute<PatternAttribute>() is { } pattern)
            schema.Pattern = pattern.Regex;
        if (property.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            schema.Minimum = range.Minimum;
            if (range.Maximum != long.MaxValue)
                schema.Maximum = range.Maximum;
        }
        if (property.GetCustomAttribute<LengthAttribute>() is { } length)
        {
            schema.MinLength = length.Minimum >= 0 ? length.Minimum : null;
            schema.MaxLength = length.Maximum >= 0 ? length.Maximum : null;
        }
        if (property.GetCustomAttribute<DefaultAttribute>() is { } value)
            schema.DefaultProperty = value.Value;
        // An object whose every field has a default defaults to {}, so its fields are defaulted when it is absent.
        if (schema is { Type: "object", Properties.Count: > 0, Required: null } && schema.Properties.Values.All(p => p.DefaultProperty is not null))
            schema.DefaultProperty = new Dictionary<string, object>();
        if (property.GetCustomAttribute<EnumValuesAttribute>() is { } values)
            schema.EnumProperty = values.Values.Cast<object>().ToList();
        if (property.GetCustomAttribute<FormatAttribute>() is { } format)
            schema.Format = format.Format;
        if (property.GetCustomAttribute<ListMapKeysAttribute>() is { } keys)
        {
            schema.XKubernetesListType = "map";
            schema.XKubernetesListMapKeys = keys.Keys.ToList();
        }
    }

    private static List<V1CustomResourceColumnDefinition>? PrinterColumns(
        [DynamicallyAccessedMembers(Members)] Type entityType, PropertyInfo? spec, PropertyInfo? status)
    {
        var columns = new List<(int Order, V1CustomResourceColumnDefinition Column)>();
        foreach (var (root, path) in new[] { (spec, ".spec"), (status, ".status") })
        {
            if (root is null)
                continue;
            foreach (var property in PropertiesOf(root.PropertyType))
            {
                if (property.GetCustomAttribute<PrinterColumnAttribute>() is not { } column)
                    continue;
                columns.Add((column.Order, new V1CustomResourceColumnDefinition
                {
                    Name = column.Name,
                    JsonPath = $"{path}.{JsonName(property)}",
                    Type = column.Type ?? ColumnType(property.PropertyType),
                    Priority = column.Priority == 0 ? null : column.Priority,
                    Description = column.Description ?? property.GetCustomAttribute<DescriptionAttribute>()?.Text,
                }));
            }
        }
        foreach (var column in entityType.GetCustomAttributes<GenericPrinterColumnAttribute>())
        {
            columns.Add((column.Order, new V1CustomResourceColumnDefinition
            {
                Name = column.Name,
                JsonPath = column.JsonPath,
                Type = column.Type,
                Priority = column.Priority == 0 ? null : column.Priority,
                Description = column.Description,
            }));
        }
        return columns.Count == 0 ? null : columns.OrderBy(c => c.Order).Select(c => c.Column).ToList();
    }

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Entity property types are kept by the DynamicDependency on ManifestSet.Generate.")]
    private static PropertyInfo[] PropertiesOf(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance);

    private static string ColumnType(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(int) || type == typeof(long) ? "integer"
            : type == typeof(bool) ? "boolean"
            : type == typeof(DateTime) || type == typeof(DateTimeOffset) ? "date"
            : "string";
    }

    /// <summary>The name System.Text.Json uses: [JsonPropertyName], else camelCase as in <see cref="EntityJson"/>.</summary>
    public static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    private static Type? DictionaryValue(Type type) =>
        type.IsGenericType && type.GetGenericArguments() is [var key, var value] && key == typeof(string)
            && typeof(IDictionary).IsAssignableFrom(type) ? value : null;

    private static Type? ItemType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments() is [var item] ? item
        : null;
}
