using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using k8s;
using k8s.Models;
using MiniLb.Operator.Kube;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>
/// The NativeAOT binary (de)serialises KubernetesClient's models by reflection over the types
/// Operator/KubernetesClient.roots.xml keeps, and nothing else of them (see <see cref="ModelJson"/>). A model type
/// minilb uses, or one a kept type reaches through its properties, missing from that list would fail only in the
/// AOT binary, at run time; these tests fail first.
/// </summary>
public class ModelJsonTests
{
    private static readonly Assembly Models = typeof(V1Service).Assembly;

    // Used only by `minilb manifests`, which writes YAML with KubernetesYaml and so needs the JIT build anyway
    // (docs/building.md): the AOT binary says so instead of running it.
    private static readonly HashSet<string> ManifestsOnly =
    [
        "k8s.Models.V1ClusterRole", "k8s.Models.V1ClusterRoleBinding", "k8s.Models.V1CustomResourceColumnDefinition",
        "k8s.Models.V1CustomResourceDefinition", "k8s.Models.V1CustomResourceDefinitionNames", "k8s.Models.V1CustomResourceDefinitionSpec",
        "k8s.Models.V1CustomResourceDefinitionVersion", "k8s.Models.V1CustomResourceSubresources", "k8s.Models.V1CustomResourceValidation",
        "k8s.Models.V1JSONSchemaProps", "k8s.Models.V1PolicyRule", "k8s.Models.V1Role", "k8s.Models.V1RoleBinding", "k8s.Models.V1RoleRef",
        "k8s.Models.V1ServiceAccount", "k8s.Models.Rbacv1Subject", "k8s.Models.V1CustomResourceSubresourceStatus",
    ];

    private static HashSet<string> Kept() =>
        XDocument.Load(Path.Combine(RepositoryRoot, "Operator", "KubernetesClient.roots.xml"))
            .Descendants("type")
            .Select(t => ((string)t.Attribute("fullname")!).Replace('/', '+'))
            .ToHashSet();

    [Test]
    public void Every_model_type_minilb_refers_to_is_kept_for_the_AOT_build()
    {
        var kept = Kept();
        var used = ReferencedModelTypes(typeof(ModelJson).Assembly.Location)
            .Where(t => !ManifestsOnly.Contains(t) && Models.GetType(t) is { IsInterface: false } type && !typeof(Attribute).IsAssignableFrom(type))
            .ToList();

        Assert.That(used, Has.Count.GreaterThan(10), "the scan finds the model types the operator uses");
        Assert.That(used.Where(t => !kept.Contains(t)), Is.Empty, "add these to Operator/KubernetesClient.roots.xml");
    }

    [Test]
    public void Every_type_a_kept_model_reaches_through_its_properties_is_kept_too()
    {
        var kept = Kept();
        var missing = new SortedSet<string>();
        foreach (var name in kept.Where(n => n.StartsWith("k8s.Models.", StringComparison.Ordinal)))
        {
            var type = Models.GetType(name);
            Assert.That(type, Is.Not.Null, $"{name} is listed but KubernetesClient has no such type");
            foreach (var reached in PropertyTypes(type!))
            {
                if (reached.Assembly == Models && reached.Namespace == "k8s.Models" && !kept.Contains(reached.FullName!))
                    missing.Add($"{reached.FullName} (a property type of {name})");
            }
        }
        Assert.That(missing, Is.Empty, "add these to Operator/KubernetesClient.roots.xml");
    }

    [Test]
    public void Models_round_trip_through_KubernetesClients_JSON_without_its_generated_context()
    {
        // AssemblySetUp took the generated context out of the chain before any test, as Main does.
        var service = Service("default", "web", ports: Port("http", 80));
        service.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Hostname = "web.default.minilb" }] } };

        var json = KubernetesJson.Serialize(service);
        var back = KubernetesJson.Deserialize<V1Service>(json);

        Assert.That(back.Spec.LoadBalancerClass, Is.EqualTo("minilb"));
        Assert.That(back.Spec.Ports.Single().Port, Is.EqualTo(80));
        Assert.That(back.Status.LoadBalancer.Ingress.Single().Hostname, Is.EqualTo("web.default.minilb"));
        Assert.That(json, Does.Contain("\"loadBalancerClass\":\"minilb\""), "camelCase names, as the API server expects");
    }

    /// <summary>k8s.Models types named in the assembly's metadata: signatures, generic arguments, method bodies.</summary>
    private static IEnumerable<string> ReferencedModelTypes(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var reader = new PEReader(stream);
        var metadata = reader.GetMetadataReader();
        foreach (var handle in metadata.TypeReferences)
        {
            var name = FullName(metadata, handle);
            if (name.StartsWith("k8s.Models.", StringComparison.Ordinal))
                yield return name;
        }
    }

    private static string FullName(MetadataReader metadata, TypeReferenceHandle handle)
    {
        var reference = metadata.GetTypeReference(handle);
        var name = metadata.GetString(reference.Name);
        return reference.ResolutionScope.Kind == HandleKind.TypeReference
            ? FullName(metadata, (TypeReferenceHandle)reference.ResolutionScope) + "+" + name // nested: no namespace of its own
            : metadata.GetString(reference.Namespace) + "." + name;
    }

    private static IEnumerable<Type> PropertyTypes(Type type)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            foreach (var reached in Unwrap(property.PropertyType))
                yield return reached;
        }
    }

    private static IEnumerable<Type> Unwrap(Type type)
    {
        if (type.IsArray)
            return Unwrap(type.GetElementType()!);
        if (type.IsGenericType)
            return type.GetGenericArguments().SelectMany(Unwrap);
        return [type];
    }
}
