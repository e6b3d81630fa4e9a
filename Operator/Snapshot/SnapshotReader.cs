using System.Diagnostics.CodeAnalysis;
using k8s;
using k8s.Models;
using MiniLb.Operator.Resolution;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

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
        // The kinds the informers project are read into the same source-generated shapes (see WatchedKinds).
        [("", "Service")] = j => JsonSerializer.Deserialize(j, ViewJson.Default.ServiceJson)!,
        [("", "Node")] = j => JsonSerializer.Deserialize(j, ViewJson.Default.NodeJson)!,
        [("discovery.k8s.io", "EndpointSlice")] = j => JsonSerializer.Deserialize(j, ViewJson.Default.EndpointSliceJson)!,
        [("networking.k8s.io", "Ingress")] = j => KubernetesJson.Deserialize<V1Ingress>(j),
        [(GatewayApi.Group, "Gateway")] = j => KubernetesJson.Deserialize<V1Gateway>(j),
        [(GatewayApi.Group, "HTTPRoute")] = j => KubernetesJson.Deserialize<V1HttpRoute>(j),
        [(GatewayApi.Group, "GRPCRoute")] = j => KubernetesJson.Deserialize<V1GrpcRoute>(j),
        [(GatewayApi.Group, "TLSRoute")] = j => KubernetesJson.Deserialize<V1Alpha2TlsRoute>(j),
    };

    // Our Gateway API types are only ever made by the JSON reader (reflection): keep them whole for NativeAOT.
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(V1Gateway))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(GatewayStatus))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(GatewayStatusAddress))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(GatewayRouteSpec))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ParentReference))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(V1HttpRoute))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(V1GrpcRoute))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(V1Alpha2TlsRoute))]
    public static ClusterSnapshot Read(string path)
    {
        StreamReader reader;
        try
        {
            reader = new StreamReader(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message;
            throw new SnapshotException($"{path}: cannot read the snapshot: {reason}", e);
        }
        using (reader)
        {
            try
            {
                return Parse(path, reader);
            }
            catch (IOException e)
            {
                throw new SnapshotException($"{path}: cannot read the snapshot: {e.Message}", e);
            }
        }
    }

    /// <summary>Parses snapshot text; <paramref name="path"/> only names the source in messages.</summary>
    public static ClusterSnapshot Parse(string path, string text) => Parse(path, new StringReader(text));

    /// <summary>
    /// Reads the YAML as a stream of events, one object at a time: each object becomes JSON, then a Kubernetes
    /// object, without a tree of the whole file (a 10,000-Service snapshot is 7.5 MB of YAML; its tree peaked at
    /// over 300 MB).
    /// </summary>
    private static ClusterSnapshot Parse(string path, TextReader text)
    {
        var objects = new List<object>();
        var notes = new List<string>();
        var parser = new Parser(text);
        try
        {
            parser.Consume<StreamStart>();
            while (!parser.TryConsume<StreamEnd>(out _))
            {
                parser.Consume<DocumentStart>();
                ReadDocument(path, parser, objects, notes);
                parser.Consume<DocumentEnd>();
            }
        }
        catch (YamlException e)
        {
            throw new SnapshotException($"{path}:{e.Start.Line}: malformed YAML: {Innermost(e).Message}", e);
        }
        return new(path, objects, notes);
    }

    /// <summary>One document: a Kubernetes object, a List of them (kubectl's <c>kind: List</c>), or nothing.</summary>
    private static void ReadDocument(string path, IParser parser, List<object> objects, List<string> notes)
    {
        var line = parser.Current!.Start.Line;
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            if (IsNull(scalar))
                return; // an empty document, e.g. after a trailing '---'
            throw new SnapshotException($"{path}:{line}: expected a Kubernetes object or a List, found the value '{scalar.Value}'");
        }
        if (!parser.Accept<MappingStart>(out _))
            throw new SnapshotException($"{path}:{line}: expected a Kubernetes object or a List, found {Describe(parser)}");

        // The root's own fields become one JSON object; the elements of an 'items' list become one each. kubectl
        // writes 'kind: List' after the items, so they wait (as JSON) until the root's kind is known.
        var anchors = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var items = new List<Item>();
        var itemsField = ItemsField.None;
        var itemsLine = line;
        var root = Json(writer =>
        {
            parser.Consume<MappingStart>();
            writer.WriteStartObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var key = Key(parser, anchors);
                if (key == "items" && parser.Accept<SequenceStart>(out _))
                {
                    itemsField = ItemsField.List;
                    parser.Consume<SequenceStart>();
                    while (!parser.TryConsume<SequenceEnd>(out _))
                        items.Add(ReadItem(parser, anchors));
                    continue;
                }
                if (key == "items")
                {
                    itemsLine = parser.Current!.Start.Line;
                    itemsField = parser.Accept<Scalar>(out var value) && IsNull(value) ? ItemsField.Empty : ItemsField.NotAList;
                }
                writer.WritePropertyName(key);
                Write(writer, parser, anchors);
            }
            writer.WriteEndObject();
        });

        var kind = Identity.Of(root).Kind;
        if (itemsField != ItemsField.None && kind is not null && kind.EndsWith("List", StringComparison.Ordinal))
        {
            if (itemsField == ItemsField.NotAList)
                throw new SnapshotException($"{path}:{itemsLine}: {kind}: 'items' must be a list");
            foreach (var item in items)
            {
                if (item.Json is null)
                    throw new SnapshotException($"{path}:{item.Line}: expected a Kubernetes object, found {item.Found}");
                ReadObject(path, item.Line, item.Json, objects, notes);
            }
            return;
        }
        ReadObject(path, line, root, objects, notes);
    }

    private enum ItemsField { None, List, Empty, NotAList }

    /// <summary>An element of a List's items: its JSON, or (not an object) what it is instead.</summary>
    private sealed record Item(long Line, byte[]? Json, string Found);

    private static Item ReadItem(IParser parser, Dictionary<string, byte[]> anchors)
    {
        var line = parser.Current!.Start.Line;
        if (parser.Accept<MappingStart>(out _))
            return new Item(line, Json(writer => Write(writer, parser, anchors)), "");
        var found = Describe(parser);
        parser.SkipThisAndNestedEvents();
        return new Item(line, null, found);
    }

    private static void ReadObject(string path, long line, byte[] json, List<object> objects, List<string> notes)
    {
        var (apiVersion, kind, name, ns) = Identity.Of(json);
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
            item = reader(Encoding.UTF8.GetString(json));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new SnapshotException($"{path}:{line}: {id}: {Innermost(e).Message}", e);
        }
        if (Missing(item) is { } field)
            throw new SnapshotException($"{path}:{line}: {id}: missing required field '{field}'");
        objects.Add(item switch
        {
            ServiceJson service => service.ToView(),
            EndpointSliceJson slice => slice.ToView(),
            NodeJson node => node.ToNode(),
            _ => item,
        });
    }

    /// <summary>What names an object in messages and picks its reader: apiVersion, kind, metadata.name and .namespace.</summary>
    private readonly record struct Identity(string? ApiVersion, string? Kind, string? Name, string? Namespace)
    {
        public static Identity Of(byte[] json)
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var metadata = root.TryGetProperty("metadata", out var m) ? m : default;
            return new(Text(root, "apiVersion"), Text(root, "kind"), Text(metadata, "name"), Text(metadata, "namespace"));
        }

        /// <summary>A scalar field as text; null when absent or not a scalar.</summary>
        private static string? Text(JsonElement parent, string name) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value)
                ? value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString(),
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                    _ => null,
                }
                : null;
    }

    /// <summary>The first required field (of those minilb reads) that the object lacks.</summary>
    private static string? Missing(object item) => item switch
    {
        ServiceJson { Spec: null } => "spec",
        EndpointSliceJson { AddressType: null or "" } => "addressType",
        EndpointSliceJson slice when slice.Endpoints?.Select((e, i) => (e, i)).FirstOrDefault(x => x.e.Addresses is not { Count: > 0 }) is { e: not null } missing
            => $"endpoints[{missing.i}].addresses",
        GatewayRoute { Spec: null } => "spec",
        _ => null,
    };

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            write(writer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The YAML node at the parser as JSON. Plain scalars that YAML 1.2's core schema reads as null, booleans or
    /// numbers become those; everything else (and every quoted scalar) is a string, as kubectl quotes strings that
    /// look like numbers. Anchored nodes are kept so that aliases repeat them; an unknown alias is null.
    /// </summary>
    private static void Write(Utf8JsonWriter writer, IParser parser, Dictionary<string, byte[]> anchors)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var repeated))
                writer.WriteRawValue(repeated, skipInputValidation: true);
            else
                writer.WriteNullValue();
            return;
        }
        if (parser.Accept<NodeEvent>(out var node) && !node.Anchor.IsEmpty)
        {
            var anchor = node.Anchor.Value;
            var json = Json(inner => WriteNode(inner, parser, anchors));
            anchors[anchor] = json;
            writer.WriteRawValue(json, skipInputValidation: true);
            return;
        }
        WriteNode(writer, parser, anchors);
    }

    private static void WriteNode(Utf8JsonWriter writer, IParser parser, Dictionary<string, byte[]> anchors)
    {
        if (parser.TryConsume<MappingStart>(out _))
        {
            writer.WriteStartObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                writer.WritePropertyName(Key(parser, anchors));
                Write(writer, parser, anchors);
            }
            writer.WriteEndObject();
        }
        else if (parser.TryConsume<SequenceStart>(out _))
        {
            writer.WriteStartArray();
            while (!parser.TryConsume<SequenceEnd>(out _))
                Write(writer, parser, anchors);
            writer.WriteEndArray();
        }
        else
        {
            var scalar = parser.Consume<Scalar>();
            if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
                writer.WriteStringValue(scalar.Value);
            else if (IsNull(scalar))
                writer.WriteNullValue();
            else if (scalar.Value is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
                writer.WriteBooleanValue(scalar.Value[0] is 't' or 'T');
            else if (long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
                writer.WriteNumberValue(integer);
            else if (double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
                writer.WriteNumberValue(real);
            else
                writer.WriteStringValue(scalar.Value);
        }
    }

    /// <summary>A mapping key: a scalar's text, or (a complex key, which Kubernetes objects never have) its JSON.</summary>
    private static string Key(IParser parser, Dictionary<string, byte[]> anchors)
    {
        if (parser.Accept<Scalar>(out var scalar) && scalar.Anchor.IsEmpty)
        {
            parser.MoveNext();
            return scalar.Value;
        }
        return Encoding.UTF8.GetString(Json(writer => Write(writer, parser, anchors)));
    }

    private static bool IsNull(Scalar scalar) =>
        scalar.Style is ScalarStyle.Plain or ScalarStyle.Any && scalar.Value is "" or "~" or "null" or "Null" or "NULL";

    private static string Describe(IParser parser) => parser.Current switch
    {
        SequenceStart => "a list",
        Scalar scalar => $"the value '{scalar.Value}'",
        _ => "something else",
    };

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
            e = e.InnerException;
        return e;
    }
}
