using k8s.KubeConfigModels;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MiniLb.Operator.Kube;

/// <summary>
/// Reads a kubeconfig file into KubernetesClient's <see cref="K8SConfiguration"/> by walking YamlDotNet's node tree
/// field by field. KubernetesClient's own reader (<c>k8s.KubernetesYaml</c>) orders properties by metadata token in
/// its static constructor, which NativeAOT does not provide, so <c>BuildConfigFromConfigFile</c> fails in the
/// shipped binary; this reader uses no reflection.
/// </summary>
public static class KubeconfigFile
{
    /// <exception cref="ClusterConnectionException">The file is not YAML or not shaped like a kubeconfig; the message names the field.</exception>
    public static K8SConfiguration Read(string path)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = File.OpenText(path);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new ClusterConnectionException($"line {e.Start.Line}: malformed YAML: {(e.InnerException ?? e).Message}", e);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ClusterConnectionException("expected a mapping with clusters, users and contexts");
        return new K8SConfiguration
        {
            FileName = Path.GetFullPath(path),
            ApiVersion = Text(root, "apiVersion"),
            Kind = Text(root, "kind"),
            CurrentContext = Text(root, "current-context"),
            Clusters = Named(root, "clusters", "cluster", (name, c, at) => new Cluster
            {
                Name = name,
                ClusterEndpoint = new ClusterEndpoint
                {
                    Server = Text(c, "server"),
                    CertificateAuthority = Text(c, "certificate-authority"),
                    CertificateAuthorityData = Text(c, "certificate-authority-data"),
                    TlsServerName = Text(c, "tls-server-name"),
                    SkipTlsVerify = Flag(c, "insecure-skip-tls-verify", at),
                },
            }),
            Users = Named(root, "users", "user", (name, u, at) => new User
            {
                Name = name,
                UserCredentials = new UserCredentials
                {
                    ClientCertificate = Text(u, "client-certificate"),
                    ClientCertificateData = Text(u, "client-certificate-data"),
                    ClientKey = Text(u, "client-key"),
                    ClientKeyData = Text(u, "client-key-data"),
                    Token = Text(u, "token"),
                    UserName = Text(u, "username"),
                    Password = Text(u, "password"),
                    Impersonate = Text(u, "as"),
                    AuthProvider = Child(u, "auth-provider", $"{at}.auth-provider") is { } provider
                        ? new AuthProvider { Name = Text(provider, "name"), Config = Strings(provider, "config") }
                        : null,
                    ExternalExecution = Child(u, "exec", $"{at}.exec") is { } exec ? Exec(exec, $"{at}.exec") : null,
                },
            }),
            Contexts = Named(root, "contexts", "context", (name, c, _) => new Context
            {
                Name = name,
                ContextDetails = new ContextDetails
                {
                    Cluster = Text(c, "cluster"),
                    User = Text(c, "user"),
                    Namespace = Text(c, "namespace"),
                },
            }),
        };
    }

    private static ExternalExecution Exec(YamlMappingNode exec, string at) => new()
    {
        ApiVersion = Text(exec, "apiVersion"),
        Command = Text(exec, "command"),
        Arguments = Sequence(exec, "args", at).Select((n, i) => Scalar(n, $"{at}.args[{i}]")).ToList(),
        EnvironmentVariables = Sequence(exec, "env", at)
            .Select((n, i) => Strings(Mapping(n, $"{at}.env[{i}]")))
            .ToList(),
        InstallHint = Text(exec, "installHint"),
        ProvideClusterInfo = Flag(exec, "provideClusterInfo", at),
    };

    /// <summary>A list of <c>{name, &lt;body&gt;: {...}}</c> entries, as clusters, users and contexts are written.</summary>
    private static List<T> Named<T>(YamlMappingNode root, string list, string body, Func<string, YamlMappingNode, string, T> create) =>
        Sequence(root, list, "").Select((node, i) =>
        {
            var at = $"{list}[{i}]";
            var entry = Mapping(node, at);
            var name = Text(entry, "name") ?? throw new ClusterConnectionException($"{at}: missing field 'name'");
            return create(name, Child(entry, body, $"{at}.{body}") ?? new YamlMappingNode(), $"{at}.{body}");
        }).ToList();

    /// <summary>The value under a key; an absent key and a plain empty value (<c>key:</c>, <c>key: null</c>) are both null.</summary>
    private static YamlNode? Value(YamlMappingNode map, string key) =>
        !map.Children.TryGetValue(new YamlScalarNode(key), out var value)
        || value is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "null" or "~" }
            ? null
            : value;

    private static string? Text(YamlMappingNode map, string key) => Value(map, key) is { } node ? Scalar(node, key) : null;

    private static bool Flag(YamlMappingNode map, string key, string at) => Text(map, key) is not { } text
        ? false
        : bool.TryParse(text, out var flag) ? flag : throw new ClusterConnectionException($"{at}.{key}: expected true or false, found '{text}'");

    private static string Scalar(YamlNode node, string at) => node is YamlScalarNode scalar
        ? scalar.Value ?? ""
        : throw new ClusterConnectionException($"{at}: expected a single value, found a {(node is YamlSequenceNode ? "list" : "mapping")}");

    private static YamlMappingNode Mapping(YamlNode node, string at) => node as YamlMappingNode
        ?? throw new ClusterConnectionException($"{at}: expected a mapping");

    private static YamlMappingNode? Child(YamlMappingNode map, string key, string at) => Value(map, key) is { } node ? Mapping(node, at) : null;

    private static IEnumerable<YamlNode> Sequence(YamlMappingNode map, string key, string at) => Value(map, key) switch
    {
        null => [],
        YamlSequenceNode sequence => sequence.Children,
        _ => throw new ClusterConnectionException($"{(at.Length == 0 ? "" : at + ".")}{key}: expected a list"),
    };

    private static Dictionary<string, string> Strings(YamlMappingNode map, string key) =>
        Child(map, key, key) is { } child ? Strings(child) : [];

    private static Dictionary<string, string> Strings(YamlMappingNode map) => map.Children.ToDictionary(
        e => Scalar(e.Key, "key"),
        e => Scalar(e.Value, Scalar(e.Key, "key")),
        StringComparer.Ordinal);
}
