using System.Text.Json.Serialization;

namespace MiniLb.Operator.Resolution;

/// <summary>Source-generated JSON for the Gateway API types the informers read, so no reflection is needed under NativeAOT.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(V1Gateway))]
[JsonSerializable(typeof(V1HttpRoute))]
[JsonSerializable(typeof(V1GrpcRoute))]
[JsonSerializable(typeof(V1Alpha2TlsRoute))]
public sealed partial class GatewayJson : JsonSerializerContext;
