using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// What kube-apiserver's per-kind strategies and controllers do around a write: namespace termination,
/// CRD establishment, schema validation and the defaults clients read back.
/// </summary>
public sealed partial class ResourceVerbs
{
    /// <summary>Deletes what a terminating namespace holds, then the namespace once it is empty.</summary>
    private JsonObject TerminateNamespace(JsonObject ns)
    {
        var name = ns["metadata"]!["name"]!.GetValue<string>();
        foreach (var typeKey in store.TypeKeysWithObjectsIn(name))
        {
            var type = registry.All.FirstOrDefault(t => t.Key == typeKey);
            if (type is null) continue;
            foreach (var (_, obj) in store.List(typeKey, name))
                Delete(new Target(type, type.StorageVersion, name, obj["metadata"]!["name"]!.GetValue<string>(), null), null, new WriteOptions());
        }
        return FinishNamespace(name) ?? ns;
    }

    private JsonObject? FinishNamespace(string name)
    {
        var namespaces = registry.Find("", "v1", "namespaces")!;
        var ns = store.Get(namespaces.Key, null, name);
        if (ns?["metadata"]?["deletionTimestamp"] is null || store.TypeKeysWithObjectsIn(name).Count > 0) return null;
        return store.Remove(namespaces.Key, ns);
    }

    private JsonObject Remove(ResourceType type, JsonObject old, bool orphan = false)
    {
        var gone = store.Remove(type.Key, old);
        if (!orphan) DeleteDependents(old["metadata"]?["uid"]?.GetValue<string>());
        if (type.Key == "apiextensions.k8s.io/customresourcedefinitions"
            && RegistryTypeOf(old) is { } custom)
        {
            store.RemoveKind(custom.Key);
            registry.Unregister(custom.Key);
        }
        if (type.Namespaced && old["metadata"]?["namespace"]?.GetValue<string>() is { } ns) FinishNamespace(ns);
        return gone;
    }

    /// <summary>
    /// Background cascading deletion, done inline: what names the removed object in its ownerReferences is
    /// deleted too (kube-apiserver leaves this to the garbage collector).
    /// </summary>
    private void DeleteDependents(string? ownerUid)
    {
        if (ownerUid is null) return;
        var dependents = registry.All
            .SelectMany(type => store.List(type.Key, null).Select(o => (Type: type, o.Object)))
            .Where(d => (d.Object["metadata"]?["ownerReferences"] as JsonArray ?? [])
                .Any(r => r?["uid"]?.GetValue<string>() == ownerUid))
            .ToList();
        foreach (var (type, dependent) in dependents)
        {
            var meta = dependent["metadata"]!;
            var target = new Target(type, type.StorageVersion, meta["namespace"]?.GetValue<string>(), meta["name"]!.GetValue<string>(), null);
            if (store.Get(type.Key, target.Namespace, target.Name!) is not null) Delete(target, null, new WriteOptions());
        }
    }

    private ResourceType? RegistryTypeOf(JsonObject crd)
    {
        var (type, _) = ResourceRegistry.FromCrd(crd);
        return type is null ? null : registry.All.FirstOrDefault(t => t.Key == type.Key && t.IsCustom);
    }

    /// <summary>A stored CRD is established at once: registered, discoverable, and its status says so.</summary>
    private void AfterWrite(ResourceType type, JsonObject stored)
    {
        if (type.Key != "apiextensions.k8s.io/customresourcedefinitions") return;
        var (custom, _) = ResourceRegistry.FromCrd(stored);
        if (custom is null) return;
        registry.Register(custom);
        var withStatus = (JsonObject)stored.DeepClone();
        var previous = stored["status"] as JsonObject;
        var since = previous?["conditions"]?[0]?["lastTransitionTime"]?.GetValue<string>() ?? Timestamps.Format(time.GetUtcNow());
        var names = (JsonObject)stored["spec"]!["names"]!.DeepClone();
        names["singular"] ??= custom.Singular;
        names["listKind"] ??= custom.ListKind;
        var storedVersions = (previous?["storedVersions"] as JsonArray ?? []).Select(v => v!.GetValue<string>())
            .Append(custom.StorageVersion).Distinct().Select(v => (JsonNode)JsonValue.Create(v)!).ToArray();
        withStatus["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(
                new JsonObject { ["type"] = "NamesAccepted", ["status"] = "True", ["lastTransitionTime"] = since, ["reason"] = "NoConflicts", ["message"] = "no conflicts found" },
                new JsonObject { ["type"] = "Established", ["status"] = "True", ["lastTransitionTime"] = since, ["reason"] = "InitialNamesAccepted", ["message"] = "the initial names have been accepted" }),
            ["acceptedNames"] = names,
            ["storedVersions"] = new JsonArray(storedVersions),
        };
        if (!JsonNode.DeepEquals(withStatus["status"], stored["status"])) store.Put(type.Key, withStatus, stored);
    }

    private void Validate(Target target, JsonObject obj, JsonObject? old, WriteOptions options)
    {
        var type = target.Type;
        var name = obj["metadata"]?["name"]?.GetValue<string>() ?? "";
        if (type.Key == "/services" && ServiceProblems(obj, old) is { Count: > 0 } problems) throw ApiError.Invalid(type, name, problems);
        if (type.Key == "apiextensions.k8s.io/customresourcedefinitions")
        {
            var (_, causes) = ResourceRegistry.FromCrd(obj);
            if (causes.Count > 0) throw ApiError.Invalid(type, name, causes);
            return;
        }
        if (type.Version(target.Version)?.Schema is not { } schema) return;
        var validation = SchemaValidation.Run(obj, schema);
        if (validation.UnknownFields.Count > 0)
        {
            var unknown = validation.UnknownFields.Select(f => $"unknown field \"{f}\"").ToList();
            if (options.FieldValidation == "Strict")
                throw ApiError.BadRequest($"{type.Kind} in version \"{target.Version}\" cannot be handled as a {type.Kind}: strict decoding error: {string.Join(", ", unknown)}");
            if (options.FieldValidation == "Warn") options.Warnings.AddRange(unknown);
        }
        if (validation.Causes.Count > 0) throw ApiError.Invalid(type, name, validation.Causes);
    }

    /// <summary>The Service rules of kube-apiserver's validation that a load-balancer controller's tests meet.</summary>
    private static List<FieldCause> ServiceProblems(JsonObject service, JsonObject? old)
    {
        var problems = new List<FieldCause>();
        var spec = service["spec"] as JsonObject ?? [];
        var type = spec["type"]?.GetValue<string>() ?? "ClusterIP";
        if (type is not ("ClusterIP" or "NodePort" or "LoadBalancer" or "ExternalName"))
            problems.Add(new("FieldValueNotSupported", "spec.type", $"Unsupported value: \"{type}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""));
        var ports = (spec["ports"] as JsonArray ?? []).ToList();
        if (ports.Count == 0 && type != "ExternalName" && spec["clusterIP"]?.GetValue<string>() != "None")
            problems.Add(new("FieldValueRequired", "spec.ports", "Required value"));
        for (var i = 0; i < ports.Count; i++)
        {
            var port = ports[i] as JsonObject ?? [];
            var number = port["port"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;
            if (number is < 1 or > 65535)
                problems.Add(new("FieldValueInvalid", $"spec.ports[{i}].port", $"Invalid value: {number}: must be between 1 and 65535, inclusive"));
            if (port["protocol"]?.GetValue<string>() is { } protocol && protocol is not ("TCP" or "UDP" or "SCTP"))
                problems.Add(new("FieldValueNotSupported", $"spec.ports[{i}].protocol", $"Unsupported value: \"{protocol}\": supported values: \"SCTP\", \"TCP\", \"UDP\""));
            if (ports.Count > 1 && string.IsNullOrEmpty(port["name"]?.GetValue<string>()))
                problems.Add(new("FieldValueRequired", $"spec.ports[{i}].name", "Required value"));
        }
        var loadBalancerClass = spec["loadBalancerClass"]?.GetValue<string>();
        if (loadBalancerClass is not null && type != "LoadBalancer")
            problems.Add(new("FieldValueForbidden", "spec.loadBalancerClass", "Forbidden: may only be used when `type` is 'LoadBalancer'"));
        var before = old?["spec"]?["loadBalancerClass"]?.GetValue<string>();
        if (old is not null && old["spec"]?["type"]?.GetValue<string>() == "LoadBalancer" && type == "LoadBalancer" && before != loadBalancerClass)
            problems.Add(new("FieldValueInvalid", "spec.loadBalancerClass", $"Invalid value: \"{loadBalancerClass}\": may not change once set"));
        return problems;
    }

    /// <summary>The defaults kube-apiserver fills in that clients read back (Service cluster IPs, phases).</summary>
    private void ApplyBuiltInDefaults(ResourceType type, JsonObject obj, JsonObject? old)
    {
        switch (type.Key)
        {
            case "/namespaces":
                obj["status"] ??= new JsonObject { ["phase"] = "Active" };
                break;
            case "/pods" when old is null:
                obj["status"] ??= new JsonObject { ["phase"] = "Pending" };
                break;
            case "/services":
                {
                    var spec = obj["spec"] as JsonObject ?? [];
                    obj["spec"] = spec;
                    spec["type"] ??= "ClusterIP";
                    spec["sessionAffinity"] ??= "None";
                    if (spec["clusterIP"] is null && old?["spec"]?["clusterIP"] is { } kept)
                    {
                        spec["clusterIP"] = kept.DeepClone();
                        spec["clusterIPs"] = old["spec"]!["clusterIPs"]?.DeepClone();
                    }
                    if (spec["clusterIP"] is null && spec["type"]!.GetValue<string>() != "ExternalName")
                    {
                        var ip = $"10.96.{_nextClusterIp / 250}.{_nextClusterIp % 250 + 1}";
                        _nextClusterIp++;
                        spec["clusterIP"] = ip;
                        spec["clusterIPs"] = new JsonArray(ip);
                    }
                    foreach (var port in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>())
                    {
                        port["protocol"] ??= "TCP";
                        port["targetPort"] ??= port["port"]?.DeepClone();
                    }
                    obj["status"] ??= new JsonObject { ["loadBalancer"] = new JsonObject() };
                    break;
                }
        }
    }
}
