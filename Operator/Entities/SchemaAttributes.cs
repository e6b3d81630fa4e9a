namespace MiniLb.Operator.Entities;

// Schema attributes in the spirit of KubeOps.Abstractions: the C# type is the single source of the CRD's
// openAPIV3Schema, its printer columns and `kubectl explain` text (see Manifests/CrdGenerator).

/// <summary>Text shown by `kubectl explain` for a type or field.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Property)]
public sealed class DescriptionAttribute(string text) : Attribute
{
    public string Text { get; } = text;
}

/// <summary>The field must be present (it goes into the parent's `required` list).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RequiredAttribute : Attribute;

/// <summary>An ECMA-262 regular expression the API server checks the string against.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PatternAttribute(string regex) : Attribute
{
    public string Regex { get; } = regex;
}

/// <summary>Inclusive bounds for an integer field.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RangeAttribute(long minimum, long maximum) : Attribute
{
    public long Minimum { get; } = minimum;
    public long Maximum { get; } = maximum;
}

/// <summary>Bounds on a string's length; -1 leaves a side open.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class LengthAttribute(int minimum = -1, int maximum = -1) : Attribute
{
    public int Minimum { get; } = minimum;
    public int Maximum { get; } = maximum;
}

/// <summary>The value the API server stores when the field is absent. Keep it equal to the property's initializer.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DefaultAttribute(object value) : Attribute
{
    public object Value { get; } = value;
}

/// <summary>The only values a string field may take.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class EnumValuesAttribute(params string[] values) : Attribute
{
    public IReadOnlyList<string> Values { get; } = values;
}

/// <summary>An OpenAPI `format` such as `date-time`.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FormatAttribute(string format) : Attribute
{
    public string Format { get; } = format;
}

/// <summary>A list whose items are identified by the given keys (`x-kubernetes-list-type: map`), like metav1 conditions.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ListMapKeysAttribute(params string[] keys) : Attribute
{
    public IReadOnlyList<string> Keys { get; } = keys;
}

/// <summary>A `kubectl get` column. On a property the JSON path is derived from where the property sits.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PrinterColumnAttribute(string name, int priority = 0) : Attribute
{
    public string Name { get; } = name;
    public int Priority { get; } = priority;
    /// <summary>The column's position; columns are emitted in this order.</summary>
    public int Order { get; init; }
    /// <summary>Overrides the derived column type (`string`, `integer`, `date`, ...).</summary>
    public string? Type { get; init; }
    public string? Description { get; init; }
}

/// <summary>A `kubectl get` column with an explicit JSON path, for values that are not a plain property (lengths, filters).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class GenericPrinterColumnAttribute(string name, string jsonPath, string type) : Attribute
{
    public string Name { get; } = name;
    public string JsonPath { get; } = jsonPath;
    public string Type { get; } = type;
    public int Order { get; init; }
    public int Priority { get; init; }
    public string? Description { get; init; }
}

public enum EntityScope
{
    Namespaced,
    Cluster,
}

/// <summary>Whether objects of the kind live in a namespace. Absent means namespaced, as in KubeOps.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class EntityScopeAttribute(EntityScope scope) : Attribute
{
    public EntityScope Scope { get; } = scope;
}

/// <summary>Abbreviations accepted by kubectl (`kubectl get mlb`).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ShortNamesAttribute(params string[] names) : Attribute
{
    public IReadOnlyList<string> Names { get; } = names;
}
