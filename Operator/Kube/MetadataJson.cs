using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniLb.Operator.Kube;

/// <summary>
/// Reads a labels or annotations map keeping only the keys a projection reads; every other entry is skipped in the
/// JSON without a string or a dictionary slot being made for it. A helm-installed Service carries 6–8 labels and
/// annotations, a kubelet's Node 20 or more, and minilb reads at most three of them: read whole, every LIST page and
/// watch event built them all and dropped them a moment later. A map with none of the keys reads as null (absent).
/// A kept key whose value is not a string is an error, as it is for the whole map.
/// </summary>
public abstract class KeptKeysConverter(params string[] keys) : JsonConverter<Dictionary<string, string>>
{
    private readonly (string Key, byte[] Utf8)[] kept = [.. keys.Select(k => (k, Encoding.UTF8.GetBytes(k)))];

    public override Dictionary<string, string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"expected a map of strings, found {reader.TokenType}");
        Dictionary<string, string>? map = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = KeptKey(ref reader);
            reader.Read();
            if (key is null)
            {
                // TrySkip: a LIST or watch is read as a stream, and the reader a converter gets is then not the final
                // block (Skip would throw), but System.Text.Json has buffered this whole value for it.
                if (!reader.TrySkip())
                    throw new JsonException("a label or annotation value ends before its map does");
                continue;
            }
            if (reader.TokenType != JsonTokenType.String)
                throw new JsonException($"the value of \"{key}\" must be a string, found {reader.TokenType}");
            (map ??= new Dictionary<string, string>(1, StringComparer.Ordinal))[key] = reader.GetString()!;
        }
        if (reader.TokenType != JsonTokenType.EndObject)
            throw new JsonException($"expected the end of a map of strings, found {reader.TokenType}");
        return map;
    }

    private string? KeptKey(ref Utf8JsonReader reader)
    {
        foreach (var (key, utf8) in kept)
        {
            if (reader.ValueTextEquals(utf8))
                return key;
        }
        return null;
    }

    public override void Write(Utf8JsonWriter writer, Dictionary<string, string> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (key, text) in value)
            writer.WriteString(key, text);
        writer.WriteEndObject();
    }
}

/// <summary>
/// An IntOrString field (a Service port's <c>targetPort</c>) as its text: <c>8080</c> reads as "8080", <c>"http"</c>
/// as "http". Written back as a number when it is one.
/// </summary>
public sealed class IntOrStringTextConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number when reader.TryGetInt64(out var number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new JsonException($"expected a number or a string, found {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        if (long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
            writer.WriteNumberValue(number);
        else
            writer.WriteStringValue(value);
    }
}
