using System.Diagnostics.CodeAnalysis;
using k8s;
using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Manifests;

/// <summary>A generated file: its path under the output directory and its YAML.</summary>
public sealed record Manifest(string Path, string Yaml);

/// <summary>
/// Everything `minilb manifests` writes, kubebuilder's `config/` layout: the CRD, the RBAC (from the attributes
/// listed in <see cref="RbacDeclarations"/>) and a sample. Pure: the same code gives byte-identical files.
/// </summary>
public static class ManifestSet
{
    public const string Name = "minilb";
    public const string DefaultNamespace = "minilb";
    public const string Regenerate = "make manifests   # or: dotnet run --project Operator -- manifests --output config";
    private const string Header = "# Generated from the C# types by `minilb manifests --output config` (make manifests). Do not edit.\n";

    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(MiniLbConfigSpec))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(MiniLbConfigStatus))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(NodeRoute))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(NodeLivenessSpec))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(ForwardingSpec))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(Condition))]
    public static IReadOnlyList<Manifest> Generate(string @namespace = DefaultNamespace)
    {
        var crd = CrdGenerator.Generate(typeof(MiniLbConfig));
        var permissions = RbacGenerator.Collect(RbacDeclarations.Types);
        var account = new Rbacv1Subject { Kind = "ServiceAccount", Name = Name, NamespaceProperty = @namespace };
        var leaderElection = $"{Name}-leader-election";
        return
        [
            File($"crd/{crd.Spec.Group}_{crd.Spec.Names.Plural}.yaml", crd),
            File("rbac/service_account.yaml", new V1ServiceAccount
            {
                ApiVersion = "v1",
                Kind = "ServiceAccount",
                Metadata = new V1ObjectMeta { Name = Name, NamespaceProperty = @namespace },
            }),
            File("rbac/role.yaml", new V1ClusterRole
            {
                ApiVersion = "rbac.authorization.k8s.io/v1",
                Kind = "ClusterRole",
                Metadata = new V1ObjectMeta { Name = Name },
                Rules = RbacGenerator.Rules(permissions, RbacScope.Cluster),
            }),
            File("rbac/role_binding.yaml", new V1ClusterRoleBinding
            {
                ApiVersion = "rbac.authorization.k8s.io/v1",
                Kind = "ClusterRoleBinding",
                Metadata = new V1ObjectMeta { Name = Name },
                RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = Name },
                Subjects = [account],
            }),
            File("rbac/leader_election_role.yaml", new V1Role
            {
                ApiVersion = "rbac.authorization.k8s.io/v1",
                Kind = "Role",
                Metadata = new V1ObjectMeta { Name = leaderElection, NamespaceProperty = @namespace },
                Rules = RbacGenerator.Rules(permissions, RbacScope.OperatorNamespace),
            }),
            File("rbac/leader_election_role_binding.yaml", new V1RoleBinding
            {
                ApiVersion = "rbac.authorization.k8s.io/v1",
                Kind = "RoleBinding",
                Metadata = new V1ObjectMeta { Name = leaderElection, NamespaceProperty = @namespace },
                RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = leaderElection },
                Subjects = [account],
            }),
            File($"samples/{Name}_{MiniLbConfig.ApiVersionName}_{MiniLbConfig.KindName.ToLowerInvariant()}.yaml", Sample()),
        ];
    }

    /// <summary>The `default` MiniLbConfig with every default spelled out, so users see what they can change.</summary>
    public static MiniLbConfig Sample() => new()
    {
        Metadata = new V1ObjectMeta { Name = MiniLbConfig.DefaultName },
        Spec = new MiniLbConfigSpec(),
    };

    /// <summary>Writes the manifests under <paramref name="directory"/>; returns the paths written.</summary>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<Manifest> manifests)
    {
        var written = new List<string>();
        foreach (var manifest in manifests)
        {
            var path = Path.Combine(directory, manifest.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            System.IO.File.WriteAllText(path, manifest.Yaml);
            written.Add(path);
        }
        return written;
    }

    private static Manifest File(string path, object resource) =>
        new(path, Header + KubernetesYaml.Serialize(resource).TrimEnd('\n') + "\n");
}
