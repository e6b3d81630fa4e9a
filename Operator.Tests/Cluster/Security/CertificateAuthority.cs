using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>How a client proves who it is, as a kubeconfig user carries it: a bearer token or a client certificate and key (PEM).</summary>
public sealed record Credentials
{
    public string? Token { get; init; }
    public string? CertificatePem { get; init; }
    public string? KeyPem { get; init; }

    public static Credentials FromToken(string token) => new() { Token = token };
}

/// <summary>
/// The cluster CA the test API server generates at start (EC P-256, as k3s and kubeadm do): it signs the serving
/// certificate (127.0.0.1 and localhost) and client certificates (user = CN, groups = O), and checks that a
/// presented client certificate is one of its own.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public CertificateAuthority(TimeProvider time)
    {
        Time = time;
        var request = new CertificateRequest("CN=minilb-test-ca", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        Certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
        ServingCertificate = Issue("CN=kube-apiserver", server: true);
    }

    private TimeProvider Time { get; }

    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate Kestrel presents, with its key.</summary>
    public X509Certificate2 ServingCertificate { get; }

    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>A client certificate for <paramref name="user"/> in <paramref name="groups"/> (kube-apiserver reads CN and O).</summary>
    public Credentials IssueClient(string user, params string[] groups)
    {
        var subject = new X500DistinguishedNameBuilder();
        foreach (var group in groups) subject.AddOrganizationName(group);
        subject.AddCommonName(user);
        using var certificate = Issue(subject.Build(), server: false);
        using var key = certificate.GetECDsaPrivateKey()!;
        return new Credentials { CertificatePem = certificate.ExportCertificatePem(), KeyPem = key.ExportECPrivateKeyPem() };
    }

    /// <summary>Whether <paramref name="presented"/> chains to this CA and is valid now.</summary>
    public bool Signed(X509Certificate2 presented)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = Time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
        return chain.Build(presented);
    }

    private X509Certificate2 Issue(string subject, bool server) => Issue(new X500DistinguishedName(subject), server);

    private X509Certificate2 Issue(X500DistinguishedName subject, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddIpAddress(IPAddress.IPv6Loopback);
            names.AddDnsName("localhost");
            names.AddDnsName("kubernetes.default.svc");
            request.CertificateExtensions.Add(names.Build());
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var now = Time.GetUtcNow();
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var signed = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), now.AddMinutes(-5), now.AddDays(30), serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        // Through PKCS#12 so the key is persisted in a form SslStream can use for the server side.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        ServingCertificate.Dispose();
        Certificate.Dispose();
        _key.Dispose();
    }
}
