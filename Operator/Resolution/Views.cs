using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using k8s.Models;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Resolution;

/// <summary>What minilb reads of a Service: what decides serving (type, class, the exclude/serve annotations), the name, the aliases, the ports, and the load balancer status it writes.</summary>
public sealed record ServiceView(string? Namespace, string Name, string? Uid, string? ResourceVersion) : ObjectView(Namespace, Name, Uid, ResourceVersion)
{
    public override ResourceKind ResourceKind => Kinds.Service;

    public string? Type { get; init; }
    public string? LoadBalancerClass { get; init; }

    /// <summary>The normalised hostnames of the <see cref="ServedService.HostAnnotation"/> annotation.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The <see cref="ServedService.ExcludeAnnotation"/> value as written (null: unset); only this annotation and the next are kept.</summary>
    public string? Exclude { get; init; }

    /// <summary>The <see cref="ServedService.ServeAnnotation"/> value as written (null: unset).</summary>
    public string? Serve { get; init; }

    public ImmutableArray<ServicePortView> Ports { get; init; } = [];

    /// <summary><c>status.loadBalancer.ingress</c> as the API server holds it (entries of other load balancers included).</summary>
    public ImmutableArray<LoadBalancerIngressJson> Ingress { get; init; } = [];

    /// <summary>The projection of a KubernetesClient model (tests, and callers holding models), by the same JSON shape the informer reads.</summary>
    public static ServiceView From(V1Service service) => ViewJson.Project(service, ViewJson.Default.ServiceJson).ToView();

    internal static IReadOnlyList<string> AliasesOf(IDictionary<string, string>? annotations) =>
        annotations is not null && annotations.TryGetValue(ServedService.HostAnnotation, out var value) && value is not null
            ? Hostnames.SplitList(value)
            : [];
}

/// <summary>A Service port; <see cref="TargetPort"/> as written (a number or a port name).</summary>
public sealed record ServicePortView(string? Name, string? Protocol, int Port, string? TargetPort);

/// <summary>
/// What minilb reads of an EndpointSlice: the Service it belongs to, the address family, per endpoint the addresses,
/// conditions, node and hostname, and the ports. targetRef, zone, hints, labels and owners are dropped at the door.
/// </summary>
public sealed record SliceView(string? Namespace, string Name, string? Uid, string? ResourceVersion) : ObjectView(Namespace, Name, Uid, ResourceVersion)
{
    public override ResourceKind ResourceKind => Kinds.EndpointSlice;

    /// <summary>The <c>kubernetes.io/service-name</c> label; a slice without one cannot matter and keeps no endpoints.</summary>
    public string? ServiceName { get; init; }
    public string? AddressType { get; init; }
    public ImmutableArray<EndpointView> Endpoints { get; init; } = [];
    public ImmutableArray<SlicePortView> Ports { get; init; } = [];

    /// <inheritdoc cref="ServiceView.From"/>
    public static SliceView From(V1EndpointSlice slice) => ViewJson.Project(slice, ViewJson.Default.EndpointSliceJson).ToView();
}

/// <summary>
/// One endpoint of a slice. Conditions as written: null means unset (ready and serving count as true then).
/// A value kept inline in its slice's array, 32 bytes: at 10,000 slices of 5 endpoints a record per endpoint with
/// its address strings was 6 MB of the heap. The one IPv4 address the endpoint-slice controller writes is kept as
/// its 4 bytes (read back as the text written, which it always is for such an address); anything else (IPv6,
/// several addresses, text that is not an address) as the strings written.
/// </summary>
public readonly record struct EndpointView
{
    private static readonly ImmutableArray<string> none = [];

    private readonly uint ipv4;
    private readonly string[]? written;
    private readonly byte conditions;

    public EndpointView(ImmutableArray<string> addresses, bool? ready, bool? serving, bool? terminating, string? nodeName, string? hostname)
    {
        if (!addresses.IsDefault && addresses.Length == 1 && CompactIpv4(addresses[0]) is { } compact)
            ipv4 = compact;
        else
            written = addresses.IsDefaultOrEmpty ? [] : [.. addresses];
        conditions = (byte)(Condition(ready) | Condition(serving) << 2 | Condition(terminating) << 4);
        NodeName = nodeName;
        Hostname = hostname;
    }

    /// <summary>The addresses as written.</summary>
    public ImmutableArray<string> Addresses => written is null ? [Ipv4Text(ipv4)] : written.Length == 0 ? none : [.. written];

    public int AddressCount => written?.Length ?? 1;

    /// <summary>The address at <paramref name="index"/>, or null where the text written is not an address.</summary>
    public IPAddress? Address(int index) =>
        written is null ? Ipv4(ipv4) : IPAddress.TryParse(written[index], out var address) ? address : null;

    /// <summary>The text written at <paramref name="index"/>.</summary>
    public string AddressText(int index) => written is null ? Ipv4Text(ipv4) : written[index];

    public bool? Ready => Unpack(conditions);
    public bool? Serving => Unpack(conditions >> 2);
    public bool? Terminating => Unpack(conditions >> 4);
    public string? NodeName { get; }
    public string? Hostname { get; }

    /// <summary>Ready (true or unset), serving (not false) and not terminating — what kube-proxy would send traffic to.</summary>
    public bool IsReady => Ready != false && Serving != false && Terminating != true;

    public bool Equals(EndpointView other) =>
        ipv4 == other.ipv4 && conditions == other.conditions && NodeName == other.NodeName && Hostname == other.Hostname
        && (written is null ? other.written is null : other.written is not null && written.AsSpan().SequenceEqual(other.written));

    public override int GetHashCode() => HashCode.Combine(ipv4, conditions, NodeName, Hostname, written?.Length ?? -1);

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Addresses = [{string.Join(", ", Addresses)}], Ready = {Ready}, Serving = {Serving}, Terminating = {Terminating}, NodeName = {NodeName}, Hostname = {Hostname}");
        return true;
    }

    /// <summary>The address in network order as a number, when <paramref name="text"/> is a dotted IPv4 address that reads back as written.</summary>
    private static uint? CompactIpv4(string text)
    {
        if (text.Length is < 7 or > 15 || !IPAddress.TryParse(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            return null;
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        Span<char> canonical = stackalloc char[15];
        return address.TryFormat(canonical, out var written) && canonical[..written].SequenceEqual(text)
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : null;
    }

    private static IPAddress Ipv4(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    private static string Ipv4Text(uint value) => $"{value >> 24}.{(value >> 16) & 0xff}.{(value >> 8) & 0xff}.{value & 0xff}";

    private static int Condition(bool? value) => value switch { null => 0, false => 1, true => 2 };

    private static bool? Unpack(int bits) => (bits & 3) switch { 1 => false, 2 => true, _ => null };
}

public sealed record SlicePortView(string? Name, string? Protocol, int? Port);

/// <summary>
/// Strings that repeat across thousands of objects (node names, protocols, port names, address types) kept once,
/// not once per endpoint. Bounded by what a cluster names, which is small.
/// </summary>
internal static class Names
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> pool = new(StringComparer.Ordinal);

    public static string? Intern(string? value) =>
        value is null ? null : value.Length == 0 ? "" : pool.Count < 65536 ? pool.GetOrAdd(value, value) : value;
}
