using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>Who made a request, as kube-apiserver's authenticators report it.</summary>
public sealed record UserInfo(string Name, IReadOnlyList<string> Groups)
{
    public const string Masters = "system:masters";

    public static UserInfo Anonymous { get; } = new("system:anonymous", ["system:unauthenticated"]);

    public static string ServiceAccountName(string ns, string name) => $"system:serviceaccount:{ns}:{name}";

    public static UserInfo ServiceAccount(string ns, string name) =>
        new(ServiceAccountName(ns, name), ["system:serviceaccounts", $"system:serviceaccounts:{ns}", "system:authenticated"]);
}

/// <summary>
/// A token this server issued: for a ServiceAccount (bound to it: deleting the account invalidates it), or for a
/// user, as kube-apiserver's static token file does. It expires.
/// </summary>
public sealed record IssuedToken(UserInfo User, DateTimeOffset Expires, string? Namespace = null, string? ServiceAccount = null)
{
    /// <summary>When it was last presented (null: never), so a test can see a client switched to a new token.</summary>
    public DateTimeOffset? LastUsed { get; set; }
}

/// <summary>
/// Authentication as kube-apiserver does it: a bearer token this server issued for a ServiceAccount (TokenRequest,
/// <c>kubectl create token</c>), or a client certificate signed by the cluster CA (user = CN, groups = O). No
/// credentials is <c>system:anonymous</c>; credentials that do not check out are a 401.
/// </summary>
public sealed class Authenticator(CertificateAuthority? authority, ObjectStore store, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, IssuedToken> _tokens = new(StringComparer.Ordinal);

    public string Issue(string ns, string serviceAccount, TimeSpan lifetime) =>
        Add(new IssuedToken(UserInfo.ServiceAccount(ns, serviceAccount), time.GetUtcNow() + lifetime, ns, serviceAccount));

    public string Issue(UserInfo user) => Add(new IssuedToken(user, DateTimeOffset.MaxValue));

    private string Add(IssuedToken issued)
    {
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        _tokens[token] = issued;
        return token;
    }

    /// <summary>Makes <paramref name="token"/> fail from now on; false if it was never issued.</summary>
    public bool Revoke(string token) => _tokens.TryRemove(token, out _);

    public IssuedToken? Token(string token) => _tokens.GetValueOrDefault(token);

    public async Task<UserInfo> AuthenticateAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return FromToken(authorization["Bearer ".Length..].Trim()) ?? throw Unauthorized();
        if (authority is not null && await context.Connection.GetClientCertificateAsync(context.RequestAborted) is { } certificate)
            return FromCertificate(certificate) ?? throw Unauthorized();
        if (authorization.Length > 0) throw Unauthorized();
        return UserInfo.Anonymous;
    }

    private UserInfo? FromToken(string token)
    {
        if (!_tokens.TryGetValue(token, out var issued) || issued.Expires <= time.GetUtcNow()) return null;
        if (issued.ServiceAccount is not null && store.Get("/serviceaccounts", issued.Namespace, issued.ServiceAccount) is null) return null;
        issued.LastUsed = time.GetUtcNow();
        return issued.User;
    }

    private UserInfo? FromCertificate(X509Certificate2 certificate)
    {
        if (!authority!.Signed(certificate)) return null;
        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        var groups = certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(n => n.GetSingleElementType().Value == "2.5.4.10") // O
            .Select(n => n.GetSingleElementValue() ?? "")
            .ToList();
        return string.IsNullOrEmpty(name) ? null : new UserInfo(name, [.. groups, "system:authenticated"]);
    }

    /// <summary>kube-apiserver's answer to credentials it cannot verify: no detail on purpose.</summary>
    private static ApiError Unauthorized() => new(401, "Unauthorized", "Unauthorized");
}
