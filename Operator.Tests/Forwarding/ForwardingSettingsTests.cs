using System.Net;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Forwarding;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary><c>spec.forwarding</c>: off unless upstreams are given; every bad value named by its field.</summary>
public class ForwardingSettingsTests
{
    private static string? Problem(ForwardingSpec forwarding) =>
        LiveConfig.TryRead(new MiniLbConfigSpec { Forwarding = forwarding }, out _, out var problem) ? null : problem.ToString();

    [Test]
    public void Without_upstreams_forwarding_is_off()
    {
        Assert.That(ForwardingSettings.TryRead(null, out var none, out _), Is.True);
        Assert.That(ForwardingSettings.TryRead(new ForwardingSpec { AllowFrom = ["10.0.0.0/8"] }, out var empty, out _), Is.True);
        Assert.That((none, empty), Is.EqualTo(((ForwardingSettings?)null, (ForwardingSettings?)null)));
    }

    [Test]
    public void Upstreams_take_an_address_with_or_without_a_port_and_the_defaults_allow_the_LAN_only()
    {
        Assert.That(ForwardingSettings.TryRead(new ForwardingSpec { Upstreams = ["192.168.1.1", "192.168.1.2:5353", "[fd00::1]:5353", "fd00::2", "[fd00::3]"] }, out var settings, out var problem), Is.True, problem?.ToString());

        Assert.That(settings!.Upstreams.Select(e => e.ToString()), Is.EqualTo(new[] { "192.168.1.1:53", "192.168.1.2:5353", "[fd00::1]:5353", "[fd00::2]:53", "[fd00::3]:53" }));
        Assert.That(settings.Timeout, Is.EqualTo(TimeSpan.FromSeconds(2)));
        foreach (var client in new[] { "127.0.0.1", "::1", "10.1.2.3", "172.20.0.1", "192.168.178.20", "fd12::1", "169.254.1.1", "fe80::1", "::ffff:192.168.0.9" })
            Assert.That(settings.Allows(IPAddress.Parse(client)), Is.True, client);
        foreach (var client in new[] { "8.8.8.8", "172.32.0.1", "100.64.0.1", "2001:db8::1", "192.0.2.1" })
            Assert.That(settings.Allows(IPAddress.Parse(client)), Is.False, client);
        Assert.That(settings.Allows(IPAddress.Parse("192.168.1.2")), Is.False, "an upstream never has its own queries forwarded back to it");
    }

    [TestCase(new[] { "192.168.1.1", "resolver.lan" }, null, "spec.forwarding.upstreams[1]: 'resolver.lan' is not an IP address[:port]")]
    [TestCase(new[] { "192.168.1.1:0" }, null, "spec.forwarding.upstreams[0]: '192.168.1.1:0' is not an IP address[:port]")]
    [TestCase(new[] { "192.168.1.1:70000" }, null, "spec.forwarding.upstreams[0]: '192.168.1.1:70000' is not an IP address[:port]")]
    [TestCase(new[] { "0.0.0.0" }, null, "spec.forwarding.upstreams[0]: '0.0.0.0' is not an address a query can be sent to")]
    [TestCase(new[] { "192.168.1.1" }, new[] { "10.0.0.0/8", "lan" }, "spec.forwarding.allowFrom[1]: 'lan' is not a CIDR")]
    [TestCase(new[] { "192.168.1" }, null, "spec.forwarding.upstreams[0]: '192.168.1' is not an IP address[:port]")]
    [TestCase(new[] { "53" }, null, "spec.forwarding.upstreams[0]: '53' is not an IP address[:port]")]
    [TestCase(new[] { "192.168.1.1" }, new[] { "10/8" }, "spec.forwarding.allowFrom[0]: '10/8' is not a CIDR")]
    [TestCase(new[] { "192.168.1.1" }, new[] { "10.0.0.0/33" }, "spec.forwarding.allowFrom[0]: '10.0.0.0/33' is not a CIDR")]
    [TestCase(new[] { "192.168.1.1" }, new[] { "192.168.1.7/24" }, "spec.forwarding.allowFrom[0]: '192.168.1.7/24' has bits set after the prefix length (the network is 192.168.1.0/24)")]
    public void A_bad_value_is_named_by_its_field(string[] upstreams, string[]? allowFrom, string message)
    {
        Assert.That(Problem(new ForwardingSpec { Upstreams = [.. upstreams], AllowFrom = allowFrom?.ToList() }), Does.StartWith(message));
    }

    [Test]
    public void Limits_outside_the_schemas_ranges_are_named_too()
    {
        Assert.That(Problem(new ForwardingSpec { Upstreams = ["192.168.1.1"], TimeoutMilliseconds = 5 }), Is.EqualTo("spec.forwarding.timeoutMilliseconds: 5 must be between 100 and 30000 milliseconds"));
        Assert.That(Problem(new ForwardingSpec { Upstreams = ["192.168.1.1"], MaxInFlight = 0 }), Is.EqualTo("spec.forwarding.maxInFlight: 0 must be between 1 and 10000"));
        Assert.That(Problem(new ForwardingSpec { Upstreams = ["192.168.1.1"], AllowFrom = ["192.168.0.0/16", "10.1.2.3"] }), Is.Null, "a single address is a /32");
    }

    [Test]
    public void The_CRD_defaults_are_the_initializers()
    {
        var assumed = new ForwardingSpec();
        foreach (var property in typeof(ForwardingSpec).GetProperties())
        {
            if (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<DefaultAttribute>(property) is { } schema)
                Assert.That(schema.Value, Is.EqualTo(property.GetValue(assumed)), $"spec.forwarding.{property.Name}");
        }
        Assert.That(ForwardingSettings.TryRead(new ForwardingSpec { Upstreams = ["192.168.1.1"] }, out var settings, out _), Is.True);
        Assert.That((settings!.Timeout, settings.MaxInFlight), Is.EqualTo((TimeSpan.FromMilliseconds(ForwardingSpec.DefaultTimeoutMilliseconds), ForwardingSpec.DefaultMaxInFlight)));
    }
}
