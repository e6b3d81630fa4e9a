using System.Text;
using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>
/// Reads the Kubernetes protobuf encoding (<c>application/vnd.kubernetes.protobuf</c>) for the few kinds that
/// client-go's typed clients write in it here: helm's release Secrets, ConfigMaps, Namespaces, DeleteOptions, and the
/// access reviews and token requests of <c>kubectl auth</c> and <c>kubectl create token</c>.
/// The envelope is the magic <c>k8s\0</c> then a <c>runtime.Unknown</c> (typeMeta = 1, raw = 2).
/// Answers are always JSON, which client-go accepts.
/// </summary>
public static class Protobuf
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";

    private static readonly byte[] Magic = [0x6b, 0x38, 0x73, 0x00];

    public static JsonObject Decode(byte[] body)
    {
        if (body.Length < 4 || !body.AsSpan(0, 4).SequenceEqual(Magic))
            throw ApiError.BadRequest("the protobuf body does not start with the Kubernetes magic number");
        string apiVersion = "", kind = "";
        byte[] raw = [];
        foreach (var (field, reader) in Fields(body[4..]))
        {
            if (field == 1)
            {
                foreach (var (typeField, typeReader) in Fields(reader.Bytes()))
                {
                    if (typeField == 1) apiVersion = typeReader.Text();
                    else if (typeField == 2) kind = typeReader.Text();
                }
            }
            else if (field == 2)
            {
                raw = reader.Bytes();
            }
        }
        var fields = Kinds.GetValueOrDefault(kind)
            ?? throw new ApiError(415, "UnsupportedMediaType", $"the test API server reads {MediaType} only for {string.Join(", ", Kinds.Keys)}, not {kind}; send JSON");
        var obj = Read(raw, fields);
        obj["apiVersion"] = apiVersion;
        obj["kind"] = kind;
        return obj;
    }

    /// <summary>Stores one field of a message into the JSON object being built.</summary>
    private delegate void FieldDecoder(JsonObject target, FieldReader reader);

    private static FieldDecoder Text(string name) => (o, r) => o[name] = r.Text();
    private static FieldDecoder Number(string name) => (o, r) => o[name] = r.Varint();
    private static FieldDecoder Flag(string name) => (o, r) => o[name] = r.Varint() != 0;
    private static FieldDecoder Message(string name, Dictionary<int, FieldDecoder> fields) => (o, r) => o[name] = Read(r.Bytes(), fields);
    private static FieldDecoder Entry(string name, bool base64) => (o, r) => AddEntry(o, name, r.Bytes(), base64);
    private static FieldDecoder TextItem(string name) => (o, r) => Append(o, name, JsonValue.Create(r.Text()));
    private static FieldDecoder MessageItem(string name, Dictionary<int, FieldDecoder> fields) => (o, r) => Append(o, name, Read(r.Bytes(), fields));

    private static readonly Dictionary<int, FieldDecoder> OwnerReferenceFields = new()
    {
        [1] = Text("kind"), [3] = Text("name"), [4] = Text("uid"), [5] = Text("apiVersion"), [6] = Flag("controller"), [7] = Flag("blockOwnerDeletion"),
    };

    /// <summary>ObjectMeta: the fields a client may set (server-owned timestamps are ignored).</summary>
    private static readonly Dictionary<int, FieldDecoder> ObjectMetaFields = new()
    {
        [1] = Text("name"), [2] = Text("generateName"), [3] = Text("namespace"), [5] = Text("uid"), [6] = Text("resourceVersion"),
        [7] = Number("generation"), [11] = Entry("labels", false), [12] = Entry("annotations", false),
        [13] = MessageItem("ownerReferences", OwnerReferenceFields), [14] = TextItem("finalizers"),
    };

    private static readonly Dictionary<int, FieldDecoder> PreconditionFields = new() { [1] = Text("uid"), [2] = Text("resourceVersion") };

    private static readonly Dictionary<string, Dictionary<int, FieldDecoder>> Kinds = new()
    {
        ["Secret"] = new()
        {
            [1] = Message("metadata", ObjectMetaFields), [2] = Entry("data", true), [3] = Text("type"), [4] = Entry("stringData", false), [5] = Flag("immutable"),
        },
        ["ConfigMap"] = new()
        {
            [1] = Message("metadata", ObjectMetaFields), [2] = Entry("data", false), [3] = Entry("binaryData", true), [4] = Flag("immutable"),
        },
        ["Namespace"] = new() { [1] = Message("metadata", ObjectMetaFields) },
        // kubectl auth can-i, kubectl create token, kubectl auth whoami (k8s.io/api authorization and authentication v1).
        ["SelfSubjectAccessReview"] = new()
        {
            [1] = Message("metadata", ObjectMetaFields),
            [2] = Message("spec", new()
            {
                [1] = Message("resourceAttributes", new()
                {
                    [1] = Text("namespace"), [2] = Text("verb"), [3] = Text("group"), [4] = Text("version"), [5] = Text("resource"),
                    [6] = Text("subresource"), [7] = Text("name"),
                }),
                [2] = Message("nonResourceAttributes", new() { [1] = Text("path"), [2] = Text("verb") }),
            }),
        },
        ["TokenRequest"] = new()
        {
            [1] = Message("metadata", ObjectMetaFields),
            [2] = Message("spec", new() { [1] = TextItem("audiences"), [4] = Number("expirationSeconds") }),
        },
        ["SelfSubjectReview"] = new() { [1] = Message("metadata", ObjectMetaFields) },
        ["SelfSubjectRulesReview"] = new() { [1] = Message("metadata", ObjectMetaFields), [2] = Message("spec", new() { [1] = Text("namespace") }) },
        ["DeleteOptions"] = new()
        {
            [1] = Number("gracePeriodSeconds"), [2] = Message("preconditions", PreconditionFields), [4] = Text("propagationPolicy"),
        },
    };

    private static JsonObject Read(byte[] raw, Dictionary<int, FieldDecoder> fields)
    {
        var obj = new JsonObject();
        foreach (var (field, reader) in Fields(raw))
        {
            if (fields.TryGetValue(field, out var decode)) decode(obj, reader);
            else reader.Skip();
        }
        return obj;
    }

    private static void Append(JsonObject parent, string name, JsonNode item)
    {
        if (parent[name] is not JsonArray list) parent[name] = list = [];
        list.Add(item);
    }

    /// <summary>A map entry message (key = 1, value = 2); bytes values become base64 as in JSON.</summary>
    private static void AddEntry(JsonObject parent, string name, byte[] entry, bool base64)
    {
        string key = "", value = "";
        foreach (var (field, reader) in Fields(entry))
        {
            if (field == 1) key = reader.Text();
            else if (field == 2) value = base64 ? Convert.ToBase64String(reader.Bytes()) : reader.Text();
            else reader.Skip();
        }
        if (parent[name] is not JsonObject map) parent[name] = map = [];
        map[key] = value;
    }

    private static IEnumerable<(int Field, FieldReader Reader)> Fields(byte[] message)
    {
        var reader = new FieldReader(message);
        while (reader.HasMore)
        {
            var tag = reader.Varint();
            reader.WireType = (int)(tag & 7);
            yield return ((int)(tag >> 3), reader);
            reader.SkipIfUnread();
        }
    }

    /// <summary>Walks one message; each field must be read once (or skipped) before the next.</summary>
    private sealed class FieldReader(byte[] data)
    {
        private int _position;
        private int _fieldStart = -1;

        public int WireType
        {
            get;
            set
            {
                field = value;
                _fieldStart = _position;
            }
        }

        public bool HasMore => _position < data.Length;

        public long Varint()
        {
            _fieldStart = -1;
            long result = 0;
            for (var shift = 0; ; shift += 7)
            {
                if (_position >= data.Length) throw ApiError.BadRequest("the protobuf body is truncated");
                var b = data[_position++];
                result |= (long)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return result;
            }
        }

        public byte[] Bytes()
        {
            var length = (int)Varint();
            if (_position + length > data.Length) throw ApiError.BadRequest("the protobuf body is truncated");
            var bytes = data[_position..(_position + length)];
            _position += length;
            return bytes;
        }

        public string Text() => Encoding.UTF8.GetString(Bytes());

        public void Skip()
        {
            switch (WireType)
            {
                case 0: Varint(); break;
                case 1: _position += 8; break;
                case 2: Bytes(); break;
                case 5: _position += 4; break;
                default: throw ApiError.BadRequest($"unsupported protobuf wire type {WireType}");
            }
            _fieldStart = -1;
        }

        public void SkipIfUnread()
        {
            if (_fieldStart == _position) Skip();
            _fieldStart = -1;
        }
    }
}
