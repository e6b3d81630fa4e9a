using k8s;
using k8s.Models;

namespace MiniLb.Operator.Tests.Container;

/// <summary>
/// A cluster's objects as the kubelet, helm and the endpoint-slice controller write them, not the bare minimum the unit
/// tests use: the memory of `run` is mostly its watch caches, so a footprint figure holds only for objects of real size.
/// Nodes carry 40 images, conditions, labels and annotations; Services helm labels and annotations, most ClusterIP and
/// one in five LoadBalancer of class minilb; each Service has a slice of 5 endpoints with targetRef, nodeName, zone,
/// conditions, ports and an owner reference.
/// </summary>
internal static class RealisticCluster
{
    public const int Namespaces = 20;
    public const int EndpointsPerService = 5;

    public static async Task CreateAsync(IKubernetes client, int services, int nodes, CancellationToken ct = default)
    {
        for (var n = 0; n < Namespaces; n++)
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = NamespaceOf(n) } }, cancellationToken: ct);
        for (var n = 0; n < nodes; n++)
            await client.CoreV1.CreateNodeAsync(Node(n), cancellationToken: ct);
        await Parallel.ForAsync(0, services, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, token) =>
        {
            var service = await client.CoreV1.CreateNamespacedServiceAsync(Service(i), NamespaceOf(i % Namespaces), cancellationToken: token);
            await client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(Slice(i, service.Metadata.Uid, nodes), NamespaceOf(i % Namespaces), cancellationToken: token);
        });
    }

    /// <summary>Whether Service <paramref name="i"/> is one minilb serves (every fifth).</summary>
    public static bool IsServed(int i) => i % 5 == 0;

    public static string NamespaceOf(int n) => $"team-{n:00}";

    public static string NameOf(int i) => $"app-{i:0000}";

    /// <summary>The first endpoint address of Service <paramref name="i"/>.</summary>
    public static string AddressOf(int i, int endpoint = 0) => $"10.{64 + i / 250}.{i % 250}.{10 + endpoint}";

    private static V1Node Node(int n)
    {
        var name = $"worker-{n:00}";
        var zone = $"zone-{n % 3}";
        return new V1Node
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                Labels = new Dictionary<string, string>
                {
                    ["beta.kubernetes.io/arch"] = "amd64", ["beta.kubernetes.io/os"] = "linux", ["kubernetes.io/arch"] = "amd64",
                    ["kubernetes.io/hostname"] = name, ["kubernetes.io/os"] = "linux", ["node.kubernetes.io/instance-type"] = "k3s",
                    ["topology.kubernetes.io/region"] = "homelab", ["topology.kubernetes.io/zone"] = zone,
                },
                Annotations = new Dictionary<string, string>
                {
                    ["flannel.alpha.coreos.com/backend-data"] = $"{{\"VNI\":1,\"VtepMAC\":\"6e:2f:{n:x2}:9a:11:c3\"}}",
                    ["flannel.alpha.coreos.com/backend-type"] = "vxlan",
                    ["flannel.alpha.coreos.com/kube-subnet-manager"] = "true",
                    ["flannel.alpha.coreos.com/public-ip"] = $"192.168.1.{20 + n}",
                    ["k3s.io/hostname"] = name,
                    ["k3s.io/internal-ip"] = $"192.168.1.{20 + n}",
                    ["k3s.io/node-args"] = "[\"agent\",\"--node-label\",\"topology.kubernetes.io/zone=" + zone + "\"]",
                    ["node.alpha.kubernetes.io/ttl"] = "0",
                    ["volumes.kubernetes.io/controller-managed-attach-detach"] = "true",
                },
            },
            Spec = new V1NodeSpec { PodCIDR = $"10.42.{n}.0/24", PodCIDRs = [$"10.42.{n}.0/24"], ProviderID = $"k3s://{name}" },
            Status = new V1NodeStatus
            {
                Addresses = [new V1NodeAddress { Type = "InternalIP", Address = $"192.168.1.{20 + n}" }, new V1NodeAddress { Type = "Hostname", Address = name }],
                Capacity = Resources("4", "16318000Ki", "110"),
                Allocatable = Resources("4", "16318000Ki", "110"),
                Conditions = [
                    Condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    Condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    Condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    Condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                    Condition("NetworkUnavailable", "False", "FlannelIsUp", "Flannel is running on this node"),
                ],
                DaemonEndpoints = new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = 10250 } },
                NodeInfo = new V1NodeSystemInfo
                {
                    Architecture = "amd64", BootID = Guid.NewGuid().ToString(), ContainerRuntimeVersion = "containerd://2.0.5-k3s1",
                    KernelVersion = "6.1.0-37-amd64", KubeProxyVersion = "v1.34.1+k3s1", KubeletVersion = "v1.34.1+k3s1",
                    MachineID = Guid.NewGuid().ToString("N"), OperatingSystem = "linux", OsImage = "Debian GNU/Linux 12 (bookworm)",
                    SystemUUID = Guid.NewGuid().ToString(),
                },
                Images = Enumerable.Range(0, 40).Select(image => new V1ContainerImage
                {
                    Names = [$"registry.example.lan/team-{image % 7}/service-{image}@sha256:{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}",
                        $"registry.example.lan/team-{image % 7}/service-{image}:v1.{image}.{n}"],
                    SizeBytes = 20_000_000 + image * 3_100_000L,
                }).ToList(),
            },
        };
    }

    private static Dictionary<string, ResourceQuantity> Resources(string cpu, string memory, string pods) => new()
    {
        ["cpu"] = new ResourceQuantity(cpu), ["memory"] = new ResourceQuantity(memory), ["pods"] = new ResourceQuantity(pods),
        ["ephemeral-storage"] = new ResourceQuantity("102626232Ki"), ["hugepages-2Mi"] = new ResourceQuantity("0"),
    };

    private static V1NodeCondition Condition(string type, string status, string reason, string message) => new()
    {
        Type = type, Status = status, Reason = reason, Message = message,
        LastHeartbeatTime = DateTime.UtcNow, LastTransitionTime = DateTime.UtcNow.AddDays(-3),
    };

    private static Dictionary<string, string> HelmLabels(int i) => new()
    {
        ["app.kubernetes.io/name"] = NameOf(i), ["app.kubernetes.io/instance"] = $"{NameOf(i)}-prod",
        ["app.kubernetes.io/version"] = $"1.{i % 17}.0", ["app.kubernetes.io/component"] = "server",
        ["app.kubernetes.io/part-of"] = NamespaceOf(i % Namespaces), ["app.kubernetes.io/managed-by"] = "Helm",
        ["helm.sh/chart"] = $"{NameOf(i)}-0.{i % 9}.3",
    };

    private static V1Service Service(int i) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = NameOf(i),
            NamespaceProperty = NamespaceOf(i % Namespaces),
            Labels = HelmLabels(i),
            Annotations = new Dictionary<string, string>
            {
                ["meta.helm.sh/release-name"] = $"{NameOf(i)}-prod",
                ["meta.helm.sh/release-namespace"] = NamespaceOf(i % Namespaces),
            },
        },
        Spec = new V1ServiceSpec
        {
            Type = IsServed(i) ? "LoadBalancer" : "ClusterIP",
            LoadBalancerClass = IsServed(i) ? "minilb" : null,
            Selector = new Dictionary<string, string> { ["app.kubernetes.io/name"] = NameOf(i), ["app.kubernetes.io/instance"] = $"{NameOf(i)}-prod" },
            Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "http", Protocol = "TCP" },
                new V1ServicePort { Name = "metrics", Port = 9090, TargetPort = 9090, Protocol = "TCP" }],
            SessionAffinity = "None",
            InternalTrafficPolicy = "Cluster",
            IpFamilies = ["IPv4"],
            IpFamilyPolicy = "SingleStack",
        },
    };

    private static V1EndpointSlice Slice(int i, string serviceUid, int nodes)
    {
        var labels = HelmLabels(i);
        labels["kubernetes.io/service-name"] = NameOf(i);
        labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io";
        return new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta
            {
                Name = $"{NameOf(i)}-{i:x5}",
                NamespaceProperty = NamespaceOf(i % Namespaces),
                Labels = labels,
                Annotations = new Dictionary<string, string> { ["endpoints.kubernetes.io/last-change-trigger-time"] = "2026-11-30T08:12:44Z" },
                OwnerReferences = [new V1OwnerReference
                {
                    ApiVersion = "v1", Kind = "Service", Name = NameOf(i), Uid = serviceUid, Controller = true, BlockOwnerDeletion = true,
                }],
            },
            AddressType = "IPv4",
            Endpoints = Enumerable.Range(0, EndpointsPerService).Select(e => new V1Endpoint
            {
                Addresses = [AddressOf(i, e)],
                Conditions = new V1EndpointConditions { Ready = true, Serving = true, Terminating = false },
                NodeName = $"worker-{(i + e) % nodes:00}",
                Zone = $"zone-{(i + e) % nodes % 3}",
                TargetRef = new V1ObjectReference
                {
                    Kind = "Pod", NamespaceProperty = NamespaceOf(i % Namespaces), Name = $"{NameOf(i)}-prod-7d9f8c6b5-{e:x5}",
                    Uid = Guid.NewGuid().ToString(),
                },
            }).ToList(),
            Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" },
                new Discoveryv1EndpointPort { Name = "metrics", Port = 9090, Protocol = "TCP" }],
        };
    }
}
