using k8s;
using k8s.Exceptions;

namespace MiniLb.Operator.Kube;

/// <summary>A kubeconfig that cannot be used; the message names the file and what is wrong.</summary>
public sealed class ClusterConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Where `run` and `routes` find the API server: the `--kubeconfig` file if given, else the in-cluster service
/// account inside a pod, else `KUBECONFIG` (of a ':'-separated list the first file that exists: KubernetesClient
/// does not expose merging), else `~/.kube/config`.
/// </summary>
public static class ClusterConnection
{
    private const string ServiceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    public static KubernetesClientConfiguration Configuration(string? kubeconfig, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrEmpty(kubeconfig))
            return FromFile(kubeconfig, "--kubeconfig");
        if (environment("KUBERNETES_SERVICE_HOST") is { Length: > 0 } && environment("KUBERNETES_SERVICE_PORT") is { Length: > 0 }
            && File.Exists(ServiceAccountToken))
            return KubernetesClientConfiguration.InClusterConfig();
        if (environment("KUBECONFIG") is { Length: > 0 } list)
        {
            var files = list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
            return FromFile(files.FirstOrDefault(File.Exists) ?? files[0], "KUBECONFIG");
        }
        var home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
        if (File.Exists(home))
            return FromFile(home, "the default location");
        throw new ClusterConnectionException(
            "no cluster to connect to: not inside a pod, no --kubeconfig, no KUBECONFIG and no ~/.kube/config");
    }

    /// <summary>
    /// A client that asks for HTTP/2 on every request, as client-go does (<see cref="PreferHttp2"/>): over TLS the
    /// Lease renewals, status writes and every watch share one connection to the API server.
    /// </summary>
    public static Kubernetes Client(KubernetesClientConfiguration configuration) => new(configuration, new PreferHttp2());

    private static KubernetesClientConfiguration FromFile(string path, string source)
    {
        if (!File.Exists(path))
            throw new ClusterConnectionException($"kubeconfig '{path}' (from {source}) does not exist");
        try
        {
            // Not BuildConfigFromConfigFile: its YAML reader fails under NativeAOT (see KubeconfigFile).
            return KubernetesClientConfiguration.BuildConfigFromConfigObject(KubeconfigFile.Read(path));
        }
        catch (ClusterConnectionException e)
        {
            throw new ClusterConnectionException($"kubeconfig '{path}' (from {source}) cannot be used: {e.Message}", e);
        }
        catch (Exception e) when (e is KubeConfigException or ArgumentException or NullReferenceException or IOException or UnauthorizedAccessException)
        {
            throw new ClusterConnectionException($"kubeconfig '{path}' (from {source}) cannot be used: {e.Message}", e);
        }
    }
}
