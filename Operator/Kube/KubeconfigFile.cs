using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Exceptions;
using YamlDotNet.RepresentationModel;

namespace MiniLb.Operator.Kube;

/// <summary>
/// Reads a kubeconfig without <c>k8s.KubernetesYaml</c>, which cannot run under NativeAOT (its static constructor
/// needs metadata tokens; docs/building.md). YamlDotNet's node model needs no reflection. Covers the current
/// context with a token, basic auth or a client certificate; exec plugins and auth providers are refused by name.
/// </summary>
public static class KubeconfigFile
{
    public static KubernetesClientConfiguration Read(string path)
    {
        var yaml = new YamlStream();
        using (var reader = File.OpenText(path))
            yaml.Load(reader);
        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new KubeConfigException("the file holds no YAML mapping");
        var contextName = Scalar(root, "current-context") ?? throw new KubeConfigException("current-context is not set");
        var context = Named(root, "contexts", contextName, "context");
        var clusterName = Scalar(context, "cluster") ?? throw new KubeConfigException($"context '{contextName}' names no cluster");
        var cluster = Named(root, "clusters", clusterName, "cluster");
        var userName = Scalar(context, "user");
        var user = userName is null ? new YamlMappingNode() : Named(root, "users", userName, "user");
        if (user.Children.ContainsKey("exec") || user.Children.ContainsKey("auth-provider"))
            throw new KubeConfigException($"user '{userName}' gets credentials from an exec plugin or auth provider, which this build cannot run; use a token or a client certificate");

        var configuration = new KubernetesClientConfiguration
        {
            Host = Scalar(cluster, "server") ?? throw new KubeConfigException($"cluster '{clusterName}' has no server"),
            Namespace = Scalar(context, "namespace"),
            SkipTlsVerify = Scalar(cluster, "insecure-skip-tls-verify") == "true",
            TlsServerName = Scalar(cluster, "tls-server-name"),
            AccessToken = Scalar(user, "token") ?? (Scalar(user, "tokenFile") is { } tokenFile ? File.ReadAllText(tokenFile).Trim() : null),
            Username = Scalar(user, "username"),
            Password = Scalar(user, "password"),
            ClientCertificateData = Data(user, "client-certificate"),
            ClientCertificateKeyData = Data(user, "client-key"),
        };
        if (Data(cluster, "certificate-authority") is { } ca)
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPem(Encoding.UTF8.GetString(Convert.FromBase64String(ca)));
            configuration.SslCaCerts = authorities;
        }
        return configuration;
    }

    /// <summary>The base64 <c>&lt;key&gt;-data</c> value, or the file <c>&lt;key&gt;</c> names, as base64.</summary>
    private static string? Data(YamlMappingNode node, string key) =>
        Scalar(node, key + "-data") ?? (Scalar(node, key) is { } file ? Convert.ToBase64String(File.ReadAllBytes(file)) : null);

    private static YamlMappingNode Named(YamlMappingNode root, string list, string name, string field)
    {
        var entries = root.Children.TryGetValue(new YamlScalarNode(list), out var node) && node is YamlSequenceNode sequence
            ? sequence.Children.OfType<YamlMappingNode>()
            : [];
        var entry = entries.FirstOrDefault(e => Scalar(e, "name") == name)
            ?? throw new KubeConfigException($"{list} has no entry named '{name}'");
        return entry.Children.TryGetValue(new YamlScalarNode(field), out var inner) && inner is YamlMappingNode mapping
            ? mapping
            : throw new KubeConfigException($"{list} entry '{name}' has no {field}");
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode { Value: { Length: > 0 } text } ? text : null;
}
