using k8s;
using k8s.Models;
using MiniLb.Operator.Resolution;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MiniLb.Operator.Snapshot;

/// <summary>The objects of a snapshot file, and notes about what was skipped.</summary>
public sealed record ClusterSnapshot(string Path, IReadOnlyList<object> Objects, IReadOnlyList<string> Notes);

/// <summary>A snapshot file that cannot be used; the message names the file, the object and the line.</summary>
public sealed class SnapshotException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads what <c>kubectl get nodes,services,endpointslices,ingresses -A -o yaml</c> prints (a <c>kind: List</c>),
/// or multi-document YAML of such objects, Gateway API kinds included.
/// </summary>
public static class SnapshotReader
{
    private delegate object Reader(string yaml);

    private static readonly Dictionary<(string Group, string Kind), Reader> Readers = new()
    {
        [("", "Service")] = y => KubernetesYaml.Deserialize<V1Service>(y),
        [("", "Node")] = y => KubernetesYaml.Deserialize<V1Node>(y),
        [("discovery.k8s.io", "EndpointSlice")] = y => KubernetesYaml.Deserialize<V1EndpointSlice>(y),
        [("networking.k8s.io", "Ingress")] = y => KubernetesYaml.Deserialize<V1Ingress>(y),
        [(GatewayApi.Group, "Gateway")] = y => KubernetesYaml.Deserialize<V1Gateway>(y),
        [(GatewayApi.Group, "HTTPRoute")] = y => KubernetesYaml.Deserialize<V1HttpRoute>(y),
        [(GatewayApi.Group, "GRPCRoute")] = y => KubernetesYaml.Deserialize<V1GrpcRoute>(y),
        [(GatewayApi.Group, "TLSRoute")] = y => KubernetesYaml.Deserialize<V1Alpha2TlsRoute>(y),
    };

    public static ClusterSnapshot Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message;
            throw new SnapshotException($"{path}: cannot read the snapshot: {reason}", e);
        }
        return Parse(path, text);
    }

    /// <summary>Parses snapshot text; <paramref name="path"/> only names the source in messages.</summary>
    public static ClusterSnapshot Parse(string path, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new SnapshotException($"{path}:{e.Start.Line}: malformed YAML: {Innermost(e).Message}", e);
        }

        var objects = new List<object>();
        var notes = new List<string>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" })
                continue; // an empty document, e.g. after a trailing '---'
            if (document.RootNode is not YamlMappingNode root)
                throw new SnapshotException($"{path}:{document.RootNode.Start.Line}: expected a Kubernetes object or a List, found {Describe(document.RootNode)}");
            var kind = Scalar(root, "kind");
            if (kind is not null && kind.EndsWith("List", StringComparison.Ordinal) && root.Children.ContainsKey("items"))
            {
                if (root.Children[new YamlScalarNode("items")] is YamlSequenceNode items)
                {
                    foreach (var item in items)
                        ReadObject(path, item, objects, notes);
                }
                else if (root.Children[new YamlScalarNode("items")] is not YamlScalarNode { Value: null or "" })
                    throw new SnapshotException($"{path}:{root.Start.Line}: {kind}: 'items' must be a list");
                continue;
            }
            ReadObject(path, root, objects, notes);
        }
        return new(path, objects, notes);
    }

    private static void ReadObject(string path, YamlNode node, List<object> objects, List<string> notes)
    {
        var line = node.Start.Line;
        if (node is not YamlMappingNode map)
            throw new SnapshotException($"{path}:{line}: expected a Kubernetes object, found {Describe(node)}");
        var apiVersion = Scalar(map, "apiVersion");
        var kind = Scalar(map, "kind");
        var metadata = map.Children.TryGetValue(new YamlScalarNode("metadata"), out var m) ? m as YamlMappingNode : null;
        var name = metadata is null ? null : Scalar(metadata, "name");
        var ns = metadata is null ? null : Scalar(metadata, "namespace");
        var id = $"{kind ?? "object"} {(ns is null ? "" : ns + "/")}{name ?? "(no name)"}";

        if (string.IsNullOrEmpty(kind))
            throw new SnapshotException($"{path}:{line}: {id}: missing required field 'kind'");
        if (string.IsNullOrEmpty(apiVersion))
            throw new SnapshotException($"{path}:{line}: {id}: missing required field 'apiVersion'");
        if (string.IsNullOrEmpty(name))
            throw new SnapshotException($"{path}:{line}: {id}: missing required field 'metadata.name'");

        var group = apiVersion.Contains('/') ? apiVersion[..apiVersion.IndexOf('/')] : "";
        if (!Readers.TryGetValue((group, kind), out var reader))
        {
            notes.Add($"{path}:{line}: skipped {id} ({apiVersion}): minilb does not read this kind");
            return;
        }

        object item;
        try
        {
            item = reader(Serialise(map));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var at = e is YamlException y ? line + (int)y.Start.Line - 1 : line;
            throw new SnapshotException($"{path}:{at}: {id}: {Innermost(e).Message}", e);
        }
        if (Missing(item) is { } field)
            throw new SnapshotException($"{path}:{line}: {id}: missing required field '{field}'");
        objects.Add(item);
    }

    /// <summary>The first required field (of those minilb reads) that the object lacks.</summary>
    private static string? Missing(object item) => item switch
    {
        V1Service { Spec: null } => "spec",
        V1EndpointSlice { AddressType: null or "" } => "addressType",
        V1EndpointSlice slice when slice.Endpoints?.Select((e, i) => (e, i)).FirstOrDefault(x => x.e.Addresses is not { Count: > 0 }) is { e: not null } missing
            => $"endpoints[{missing.i}].addresses",
        GatewayRoute { Spec: null } => "spec",
        _ => null,
    };

    private static string Serialise(YamlNode node)
    {
        var writer = new StringWriter();
        new YamlStream(new YamlDocument(node)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode scalar ? scalar.Value : null;

    private static string Describe(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlScalarNode scalar => $"the value '{scalar.Value}'",
        _ => "something else",
    };

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
            e = e.InnerException;
        return e;
    }
}
