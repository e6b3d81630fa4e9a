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
    private delegate object Reader(string json);

    // Objects are read as JSON converted from the YAML tree: KubernetesClient's YAML deserializer (YamlDotNet) orders
    // properties by metadata token, which NativeAOT does not have, so `serve --snapshot` failed in the AOT binary.
    private static readonly Dictionary<(string Group, string Kind), Reader> Readers = new()
    {
        [("", "Service")] = j => KubernetesJson.Deserialize<V1Service>(j),
        [("", "Node")] = j => KubernetesJson.Deserialize<V1Node>(j),
        [("discovery.k8s.io", "EndpointSlice")] = j => KubernetesJson.Deserialize<V1EndpointSlice>(j),
        [("networking.k8s.io", "Ingress")] = j => KubernetesJson.Deserialize<V1Ingress>(j),
        [(GatewayApi.Group, "Gateway")] = j => KubernetesJson.Deserialize<V1Gateway>(j),
        [(GatewayApi.Group, "HTTPRoute")] = j => KubernetesJson.Deserialize<V1HttpRoute>(j),
        [(GatewayApi.Group, "GRPCRoute")] = j => KubernetesJson.Deserialize<V1GrpcRoute>(j),
        [(GatewayApi.Group, "TLSRoute")] = j => KubernetesJson.Deserialize<V1Alpha2TlsRoute>(j),
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
            item = reader(ToJson(map));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new SnapshotException($"{path}:{line}: {id}: {Innermost(e).Message}", e);
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

    /// <summary>
    /// The YAML tree as JSON. Plain scalars that YAML 1.2's core schema reads as null, booleans or numbers become
    /// those; everything else (and every quoted scalar) is a string, as kubectl quotes strings that look like numbers.
    /// </summary>
    private static string ToJson(YamlNode node)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
            Write(writer, node);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Write(System.Text.Json.Utf8JsonWriter writer, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                writer.WriteStartObject();
                foreach (var (key, value) in map.Children)
                {
                    writer.WritePropertyName(key is YamlScalarNode { Value: { } name } ? name : key.ToString());
                    Write(writer, value);
                }
                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children)
                    Write(writer, item);
                writer.WriteEndArray();
                break;
            case YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: var text }:
                if (text is null or "" or "~" or "null" or "Null" or "NULL")
                    writer.WriteNullValue();
                else if (text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
                    writer.WriteBooleanValue(text[0] is 't' or 'T');
                else if (long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var integer))
                    writer.WriteNumberValue(integer);
                else if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
                    writer.WriteNumberValue(real);
                else
                    writer.WriteStringValue(text);
                break;
            case YamlScalarNode scalar:
                writer.WriteStringValue(scalar.Value);
                break;
            default:
                writer.WriteNullValue(); // an alias node YamlStream did not resolve
                break;
        }
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
