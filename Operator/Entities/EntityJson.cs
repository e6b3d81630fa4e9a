using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniLb.Operator.Entities;

/// <summary>Source-generated JSON for minilb's own resources, so they need no reflection under NativeAOT.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MiniLbConfig))]
[JsonSerializable(typeof(MiniLbConfigStatus))]
public sealed partial class EntityJson : JsonSerializerContext;

/// <summary>metav1.Time: RFC 3339 in UTC with whole seconds, the form the API server stores, so comparisons with what it returns hold.</summary>
public sealed class KubernetesTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString() ?? "", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
}
