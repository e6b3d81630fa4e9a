using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>A CRD's <c>additionalPrinterColumns</c> entry (or a built-in's table column).</summary>
public sealed record PrinterColumn(string Name, string Type, string JsonPath, string Format = "", string Description = "", int Priority = 0);

/// <summary>One served version of a resource: its schema (CRDs only) and table columns.</summary>
public sealed record ServedVersion(string Name, JsonObject? Schema = null, IReadOnlyList<PrinterColumn>? Columns = null, bool HasStatus = false)
{
    public IReadOnlyList<PrinterColumn> Columns { get; init; } = Columns ?? [];
}

/// <summary>
/// A kind the server serves. Objects are stored once per <see cref="Key"/> (group + plural) and served in
/// every version, with only <c>apiVersion</c> rewritten (CRD conversion strategy <c>None</c>).
/// </summary>
public sealed record ResourceType
{
    public required string Group { get; init; }
    public required IReadOnlyList<ServedVersion> Versions { get; init; }
    public required string Kind { get; init; }
    public required string Plural { get; init; }
    public required string Singular { get; init; }
    public required bool Namespaced { get; init; }
    public IReadOnlyList<string> ShortNames { get; init; } = [];
    public IReadOnlyList<string> Categories { get; init; } = [];
    public bool IsCustom { get; init; }
    /// <summary>PUT on a missing object creates it (leases, events, endpoints, RBAC), as in kube-apiserver's strategies.</summary>
    public bool AllowCreateOnUpdate { get; init; }
    /// <summary>Status given on create is kept (nodes) rather than cleared (services, pods, custom resources).</summary>
    public bool CreateKeepsStatus { get; init; }
    /// <summary>metadata.generation is kept (objects with a spec).</summary>
    public bool HasGeneration { get; init; } = true;

    public string Key => $"{Group}/{Plural}";
    public string ListKind => Kind + "List";
    public string QualifiedPlural => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
    public string DotGroup => Group.Length == 0 ? "" : "." + Group;
    public string StorageVersion => Versions[0].Name;

    public ServedVersion? Version(string name) => Versions.FirstOrDefault(v => v.Name == name);

    public bool HasStatus(string version) => Version(version)?.HasStatus ?? false;

    public string ApiVersion(string version) => Group.Length == 0 ? version : $"{Group}/{version}";
}
