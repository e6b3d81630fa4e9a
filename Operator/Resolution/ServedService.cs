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

    /// <summary><c>"true"</c> on a Service, Ingress or route leaves its names out of the zone (the original minilb's annotation).</summary>
    public const string ExcludeAnnotation = "minilb/exclude";

    /// <summary><c>"true"</c> on a Service that is not one of our LoadBalancers serves its ready pods all the same.</summary>
    public const string ServeAnnotation = "minilb/serve";

    /// <summary>A LoadBalancer of our class: it gets the hostname in its status (unless excluded).</summary>
    public static bool IsOurLoadBalancer(ServiceView service, ZoneSettings settings) =>
        service.Type == "LoadBalancer" && string.Equals(service.LoadBalancerClass, settings.LoadBalancerClass, StringComparison.Ordinal);

    /// <summary>
    /// DNS answers the Service's names: a LoadBalancer of our class, or any other Service asking with
    /// <see cref="ServeAnnotation"/> (ExternalName Services have no endpoints, so never), unless excluded.
    /// </summary>
    public static bool IsServed(ServiceView service, ZoneSettings settings) =>
        !AnnotationFlag.IsTrue(service.Exclude)
        && (IsOurLoadBalancer(service, settings) || (AnnotationFlag.IsTrue(service.Serve) && service.Type != "ExternalName"));

    /// <summary>Only our LoadBalancers carry a status hostname: the other served Services are not load balancers.</summary>
    public static bool GetsHostname(ServiceView service, ZoneSettings settings) =>
        IsOurLoadBalancer(service, settings) && !AnnotationFlag.IsTrue(service.Exclude);

    /// <summary><c>&lt;service&gt;.&lt;namespace&gt;.&lt;domain&gt;</c>, lower case.</summary>
    public static string HostnameOf(ServiceView service, ZoneSettings settings) =>
        $"{service.Name}.{service.Namespace ?? "default"}.{settings.Domain.TrimEnd('.')}".ToLowerInvariant();

    /// <summary>The hostnames of the <see cref="HostAnnotation"/> annotation, normalised (lower case, no trailing dot).</summary>
    public static IReadOnlyList<string> AliasesOf(ServiceView service) => service.Aliases;

    /// <summary>What is wrong with the Service's minilb annotations, in one line naming them; null when nothing is.</summary>
    public static string? AnnotationProblem(ServiceView service)
    {
        var problems = new List<string>(2);
        if (AnnotationFlag.Problem(ExcludeAnnotation, service.Exclude) is { } exclude)
            problems.Add(exclude + "; treated as not excluded");
        if (AnnotationFlag.Problem(ServeAnnotation, service.Serve) is { } serve)
            problems.Add(serve + "; treated as not set");
        else if (AnnotationFlag.IsTrue(service.Serve) && service.Type == "ExternalName")
            problems.Add($"{ServeAnnotation}: \"true\" is ignored: an ExternalName Service has no endpoints to serve");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }
}

/// <summary>The boolean annotations: <c>"true"</c> or <c>"false"</c>; anything else is reported and means unset.</summary>
public static class AnnotationFlag
{
    public static bool IsTrue(string? value) => value == "true";

    /// <summary>The annotation named with its odd value, or null for unset, "true" and "false".</summary>
    public static string? Problem(string annotation, string? value) =>
        value is null or "true" or "false" ? null : $"annotation {annotation}: '{value}' is not \"true\" or \"false\"";

    /// <summary>The value of <paramref name="annotation"/>, or null.</summary>
    public static string? Of(IDictionary<string, string>? annotations, string annotation) =>
        annotations is not null && annotations.TryGetValue(annotation, out var value) ? Names.Intern(value) : null;
}

/// <summary>Normalisation of hostnames taken from Kubernetes objects.</summary>
internal static class Hostnames
{
    public static string Normalise(string hostname) => hostname.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>
    /// A normalised hostname as a <see cref="DomainName"/>. Kubernetes names hold no escapes, so splitting is
    /// enough and several times cheaper than <see cref="DomainName.Parse"/>.
    /// </summary>
    public static DomainName ToName(string hostname)
    {
        var labels = hostname.Split('.');
        // The labels after the first (namespace, domain, a shared parent) repeat over every name of the zone.
        for (var i = 1; i < labels.Length; i++)
            labels[i] = Names.Intern(labels[i])!;
        return new(labels);
    }

    public static IReadOnlyList<string> SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Normalise)
            .Where(h => h.Length > 0)
            .Distinct()
            .ToArray();
}
