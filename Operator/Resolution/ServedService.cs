using ARSoft.Tools.Net;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// The one rule for which Services minilb serves and what they are called. The index and the Service
/// controller both use it, so the name in a Service's status is always the name DNS answers.
/// </summary>
public static class ServedService
{
    /// <summary>Comma-separated extra hostnames that resolve to the Service's addresses.</summary>
    public const string HostAnnotation = "minilb/host";

    public static bool IsServed(ServiceView service, ZoneSettings settings) =>
        service.Type == "LoadBalancer" && string.Equals(service.LoadBalancerClass, settings.LoadBalancerClass, StringComparison.Ordinal);

    /// <summary><c>&lt;service&gt;.&lt;namespace&gt;.&lt;domain&gt;</c>, lower case.</summary>
    public static string HostnameOf(ServiceView service, ZoneSettings settings) =>
        $"{service.Name}.{service.Namespace ?? "default"}.{settings.Domain.TrimEnd('.')}".ToLowerInvariant();

    /// <summary>The hostnames of the <see cref="HostAnnotation"/> annotation, normalised (lower case, no trailing dot).</summary>
    public static IReadOnlyList<string> AliasesOf(ServiceView service) => service.Aliases;
}

/// <summary>Normalisation of hostnames taken from Kubernetes objects.</summary>
internal static class Hostnames
{
    public static string Normalise(string hostname) => hostname.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>
    /// A normalised hostname as a <see cref="DomainName"/>. Kubernetes names hold no escapes, so splitting is
    /// enough and several times cheaper than <see cref="DomainName.Parse"/>.
    /// </summary>
    public static DomainName ToName(string hostname) => new(hostname.Split('.'));

    public static IReadOnlyList<string> SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Normalise)
            .Where(h => h.Length > 0)
            .Distinct()
            .ToArray();
}
