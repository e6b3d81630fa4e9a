using System.Net;
using k8s.Models;
using MiniLb.Operator.Resolution;

namespace MiniLb.Bench;

/// <summary>Services with ready endpoints, as bench/generate.py writes them: svcN in namespace ns(N mod 20), 5 endpoints each.</summary>
internal static class SyntheticCluster
{
    public const int EndpointsPerService = 5;

    /// <param name="hostnames">Every endpoint carries a hostname (StatefulSet pods), so every pod has a name of its own.</param>
    public static ClusterModel Model(int services, bool hostnames = false)
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Loopback] });
        for (var i = 0; i < services; i++)
        {
            model.Upsert(Service(i));
            model.Upsert(Slice(i, generation: 0, hostnames));
        }
        model.Publish();
        return model;
    }

    public static string Name(int service) => $"svc{service}.ns{service % 20}.minilb";

    public static V1Service Service(int i) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = $"svc{i}", NamespaceProperty = $"ns{i % 20}" },
        Spec = new V1ServiceSpec { Type = "LoadBalancer", LoadBalancerClass = "minilb", Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
    };

    /// <summary>The Service's one slice; another <paramref name="generation"/> moves one endpoint to a new address.</summary>
    public static V1EndpointSlice Slice(int i, int generation, bool hostnames = false) => new()
    {
        ApiVersion = "discovery.k8s.io/v1",
        Kind = "EndpointSlice",
        Metadata = new V1ObjectMeta { Name = $"svc{i}-1", NamespaceProperty = $"ns{i % 20}", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = $"svc{i}" } },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
        Endpoints = [.. Enumerable.Range(0, EndpointsPerService).Select(k => new V1Endpoint
        {
            Addresses = [Address(i * EndpointsPerService + k + (k == 0 ? generation * 7_000_000 : 0))],
            Conditions = new V1EndpointConditions { Ready = true },
            Hostname = hostnames ? $"svc{i}-{k}" : null,
        })],
    };

    private static string Address(int n) => $"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}";
}
