using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// The kinds the server serves: the built-ins below plus every established CustomResourceDefinition.
/// Discovery reads it on every request, so a CRD is discoverable as soon as its create returns.
/// </summary>
public sealed class ResourceRegistry
{
    private readonly Lock _gate = new();
    private Dictionary<string, ResourceType> _byKey = [];

    public ResourceRegistry()
    {
        foreach (var type in BuiltIns()) _byKey[type.Key] = type;
    }

    /// <summary>Changes with every CRD registered or removed (the OpenAPI documents' hash, so client caches refresh).</summary>
    public int Generation { get; private set; }

    public IReadOnlyList<ResourceType> All
    {
        get { lock (_gate) return [.. _byKey.Values]; }
    }

    public ResourceType? Find(string group, string version, string plural)
    {
        lock (_gate)
        {
            return _byKey.TryGetValue($"{group}/{plural}", out var type) && type.Version(version) is not null ? type : null;
        }
    }

    public ResourceType? FindByKind(string group, string kind)
    {
        lock (_gate) return _byKey.Values.FirstOrDefault(t => t.Group == group && t.Kind == kind);
    }

    public void Register(ResourceType type)
    {
        lock (_gate)
        {
            _byKey = new(_byKey) { [type.Key] = type };
            Generation++;
        }
    }

    public void Unregister(string key)
    {
        lock (_gate)
        {
            var copy = new Dictionary<string, ResourceType>(_byKey);
            copy.Remove(key);
            _byKey = copy;
            Generation++;
        }
    }

    /// <summary>The groups with their versions, core ("") excluded, in a stable order.</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<string> Versions)> Groups() =>
        All.Where(t => t.Group.Length > 0)
            .GroupBy(t => t.Group)
            .OrderBy(g => g.Min(t => t.IsCustom ? 1 : 0)).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, (IReadOnlyList<string>)g.SelectMany(t => t.Versions.Select(v => v.Name)).Distinct()
                .OrderByDescending(VersionPriority).ToList()))
            .ToList();

    /// <summary>Kubernetes version priority: GA before beta before alpha, higher numbers first.</summary>
    private static int VersionPriority(string version)
    {
        var match = System.Text.RegularExpressions.Regex.Match(version, @"^v(\d+)(?:(alpha|beta)(\d+))?$");
        if (!match.Success) return -1;
        var major = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var stage = match.Groups[2].Value switch { "" => 3, "beta" => 2, _ => 1 };
        var minor = match.Groups[3].Success ? int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        return stage * 1_000_000 + major * 1000 + minor;
    }

    /// <summary>Reads a CustomResourceDefinition into a resource type, or lists what is wrong with it.</summary>
    public static (ResourceType? Type, IReadOnlyList<FieldCause> Causes) FromCrd(JsonObject crd)
    {
        var causes = new List<FieldCause>();
        var spec = crd["spec"] as JsonObject;
        var group = spec?["group"]?.GetValue<string>() ?? "";
        var names = spec?["names"] as JsonObject;
        var plural = names?["plural"]?.GetValue<string>() ?? "";
        var kind = names?["kind"]?.GetValue<string>() ?? "";
        var scope = spec?["scope"]?.GetValue<string>() ?? "";
        var name = crd["metadata"]?["name"]?.GetValue<string>() ?? "";
        if (group.Length == 0) causes.Add(new("FieldValueRequired", "spec.group", "Required value"));
        if (plural.Length == 0) causes.Add(new("FieldValueRequired", "spec.names.plural", "Required value"));
        if (kind.Length == 0) causes.Add(new("FieldValueRequired", "spec.names.kind", "Required value"));
        if (scope is not ("Namespaced" or "Cluster"))
            causes.Add(new("FieldValueNotSupported", "spec.scope", $"Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""));
        if (plural.Length > 0 && group.Length > 0 && name != $"{plural}.{group}")
            causes.Add(new("FieldValueInvalid", "metadata.name", $"Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"));
        var versions = new List<(ServedVersion Version, bool Storage)>();
        var listed = spec?["versions"] as JsonArray ?? [];
        if (listed.Count == 0) causes.Add(new("FieldValueRequired", "spec.versions", "Required value: must have exactly one version marked as storage version"));
        for (var i = 0; i < listed.Count; i++)
        {
            if (listed[i] is not JsonObject v) continue;
            var versionName = v["name"]?.GetValue<string>() ?? "";
            if (versionName.Length == 0) causes.Add(new("FieldValueRequired", $"spec.versions[{i}].name", "Required value"));
            if (v["served"]?.GetValue<bool>() != true) continue;
            var columns = (v["additionalPrinterColumns"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(c => new PrinterColumn(
                    c["name"]?.GetValue<string>() ?? "",
                    c["type"]?.GetValue<string>() ?? "string",
                    c["jsonPath"]?.GetValue<string>() ?? "",
                    c["format"]?.GetValue<string>() ?? "",
                    c["description"]?.GetValue<string>() ?? "",
                    c["priority"]?.GetValue<int>() ?? 0))
                .ToList();
            var schema = v["schema"]?["openAPIV3Schema"] as JsonObject;
            var hasStatus = v["subresources"]?["status"] is not null;
            versions.Add((new ServedVersion(versionName, schema, columns, hasStatus), v["storage"]?.GetValue<bool>() == true));
        }
        if (listed.Count > 0 && listed.OfType<JsonObject>().Count(v => v["storage"]?.GetValue<bool>() == true) != 1)
            causes.Add(new("FieldValueInvalid", "spec.versions", "Invalid value: must have exactly one version marked as storage version"));
        if (causes.Count > 0) return (null, causes);
        // The storage version first: objects are stored in it.
        var ordered = versions.OrderByDescending(v => v.Storage).Select(v => v.Version).ToList();
        return (new ResourceType
        {
            Group = group,
            Versions = ordered,
            Kind = kind,
            Plural = plural,
            Singular = names?["singular"]?.GetValue<string>() ?? kind.ToLowerInvariant(),
            ShortNames = (names?["shortNames"] as JsonArray ?? []).Select(n => n!.GetValue<string>()).ToList(),
            Categories = (names?["categories"] as JsonArray ?? []).Select(n => n!.GetValue<string>()).ToList(),
            Namespaced = scope == "Namespaced",
            IsCustom = true,
        }, causes);
    }

    private static readonly PrinterColumn Age = new("Age", "date", ".metadata.creationTimestamp");

    /// <summary>The built-in kinds; a few get table columns close to kubectl's (always followed by Age).</summary>
    private static IEnumerable<ResourceType> BuiltIns()
    {
        static ResourceType T(string group, string version, string kind, string plural, bool namespaced, bool status = false,
            string[]? shortNames = null, bool createOnUpdate = false, bool keepsStatus = false, bool generation = true,
            PrinterColumn[]? columns = null, bool inAll = false) => new()
        {
            Group = group,
            Versions = [new ServedVersion(version, HasStatus: status, Columns: columns is null ? null : [.. columns, Age])],
            Kind = kind,
            Plural = plural,
            Singular = kind.ToLowerInvariant(),
            Namespaced = namespaced,
            ShortNames = shortNames ?? [],
            Categories = inAll ? ["all"] : [],
            AllowCreateOnUpdate = createOnUpdate,
            CreateKeepsStatus = keepsStatus,
            HasGeneration = generation,
        };
        yield return T("", "v1", "Namespace", "namespaces", false, status: true, shortNames: ["ns"], generation: false);
        yield return T("", "v1", "Service", "services", true, status: true, shortNames: ["svc"], inAll: true, columns:
        [
            new("Type", "string", ".spec.type"), new("Cluster-IP", "string", ".spec.clusterIP"),
            new("External-IP", "string", ".status.loadBalancer.ingress[0].hostname"), new("Class", "string", ".spec.loadBalancerClass", Priority: 1),
        ]);
        yield return T("", "v1", "Endpoints", "endpoints", true, shortNames: ["ep"], createOnUpdate: true, generation: false);
        yield return T("", "v1", "Pod", "pods", true, status: true, shortNames: ["po"], inAll: true, columns:
            [new("Status", "string", ".status.phase"), new("IP", "string", ".status.podIP", Priority: 1), new("Node", "string", ".spec.nodeName", Priority: 1)]);
        yield return T("", "v1", "Node", "nodes", false, status: true, shortNames: ["no"], keepsStatus: true, columns:
            [new("Internal-IP", "string", ".status.addresses[0].address"), new("Pod-CIDR", "string", ".spec.podCIDR")]);
        yield return T("", "v1", "Event", "events", true, shortNames: ["ev"], createOnUpdate: true, generation: false);
        yield return T("", "v1", "ConfigMap", "configmaps", true, shortNames: ["cm"], generation: false);
        yield return T("", "v1", "Secret", "secrets", true, generation: false);
        yield return T("", "v1", "ServiceAccount", "serviceaccounts", true, shortNames: ["sa"], generation: false);
        yield return T("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, generation: false);
        yield return T("networking.k8s.io", "v1", "Ingress", "ingresses", true, status: true, shortNames: ["ing"]);
        yield return T("coordination.k8s.io", "v1", "Lease", "leases", true, createOnUpdate: true, generation: false,
            columns: [new("Holder", "string", ".spec.holderIdentity")]);
        yield return T("apps", "v1", "Deployment", "deployments", true, status: true, shortNames: ["deploy"], inAll: true);
        yield return T("apps", "v1", "DaemonSet", "daemonsets", true, status: true, shortNames: ["ds"], inAll: true);
        yield return T("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, status: true, shortNames: ["pdb"]);
        yield return T("rbac.authorization.k8s.io", "v1", "Role", "roles", true, createOnUpdate: true, generation: false);
        yield return T("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, createOnUpdate: true, generation: false);
        yield return T("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, createOnUpdate: true, generation: false);
        yield return T("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, createOnUpdate: true, generation: false);
        yield return T("events.k8s.io", "v1", "Event", "events", true, shortNames: ["ev"], createOnUpdate: true, generation: false);
        yield return T("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, status: true, shortNames: ["crd", "crds"]);
    }
}
