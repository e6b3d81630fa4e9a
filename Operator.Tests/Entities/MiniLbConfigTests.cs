using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Tests.Entities;

public sealed class MiniLbConfigTests
{
    [Test]
    public void Schema_defaults_are_what_the_operator_assumes_when_a_field_is_absent()
    {
        var assumed = new MiniLbConfigSpec();
        var defaulted = typeof(MiniLbConfigSpec).GetProperties().Where(p => p.PropertyType != typeof(NodeLivenessSpec))
            .Select(p => (p.Name, Schema: p.GetCustomAttribute<DefaultAttribute>()?.Value, Assumed: p.GetValue(assumed)))
            .Concat(typeof(NodeLivenessSpec).GetProperties()
                .Select(p => (Name: "NodeLiveness." + p.Name, Schema: p.GetCustomAttribute<DefaultAttribute>()?.Value, Assumed: p.GetValue(assumed.NodeLiveness))))
            .ToList();

        Assert.That(defaulted.Select(d => d.Name), Is.EquivalentTo(new[]
        {
            "Domain", "Ttl", "Listen", "LoadBalancerClass", "Transfer", "Forwarding",
            "NodeLiveness.Enabled", "NodeLiveness.Port", "NodeLiveness.IntervalMilliseconds", "NodeLiveness.Failures",
        }));
        foreach (var (name, schema, value) in defaulted)
            Assert.That(schema, Is.EqualTo(value), $"spec.{name}: the CRD default and the C# initializer differ");
        Assert.That(assumed, Has.Property("Domain").EqualTo("minilb").And.Property("Ttl").EqualTo(5)
            .And.Property("Listen").EqualTo(":53").And.Property("LoadBalancerClass").EqualTo("minilb"));
    }

    [Test]
    public void An_object_from_the_API_server_reads_with_defaults_for_missing_spec_fields()
    {
        var config = JsonSerializer.Deserialize("""
            {"apiVersion":"minilb.io/v1alpha1","kind":"MiniLbConfig",
             "metadata":{"name":"default","generation":3,"creationTimestamp":"2026-01-02T03:04:05Z","resourceVersion":"9"},
             "spec":{"domain":"lan","ttl":30},
             "status":{"observedGeneration":2,"routes":[{"node":"n1","podCIDR":"10.244.1.0/24","via":"192.168.1.11"}],
                       "conditions":[{"type":"Ready","status":"True","reason":"Serving","message":"ok","lastTransitionTime":"2026-01-02T03:04:05Z"}]}}
            """, EntityJson.Default.MiniLbConfig)!;

        Assert.That(config.Metadata.Name, Is.EqualTo("default"));
        Assert.That(config.Metadata.CreationTimestamp, Is.EqualTo(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc)));
        Assert.That(config.Spec, Has.Property("Domain").EqualTo("lan").And.Property("Ttl").EqualTo(30).And.Property("Listen").EqualTo(":53"));
        Assert.That(config.Status!.Routes!.Single(), Is.EqualTo(new NodeRoute { Node = "n1", PodCidr = "10.244.1.0/24", Via = "192.168.1.11" }));
        Assert.That(config.Status.Conditions!.Single().LastTransitionTime, Is.EqualTo(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));
    }

    [Test]
    public void Status_is_written_with_the_API_field_names_and_times_as_the_API_server_stores_them()
    {
        var status = new MiniLbConfigStatus
        {
            Routes = [new NodeRoute { Node = "n1", PodCidr = "10.244.1.0/24", Via = "192.168.1.11" }],
            DhcpOption121 = "dhcp-option=121,10.244.1.0/24,192.168.1.11",
            Conditions =
            [
                new Condition
                {
                    Type = "Ready", Status = Condition.True, Reason = "Serving", Message = "ok",
                    LastTransitionTime = new DateTimeOffset(2026, 1, 2, 4, 4, 5, 500, TimeSpan.FromHours(1)),
                },
            ],
        };

        var json = JsonSerializer.Serialize(status, EntityJson.Default.MiniLbConfigStatus);

        Assert.That(json, Is.EqualTo("""
            {"routes":[{"node":"n1","podCIDR":"10.244.1.0/24","via":"192.168.1.11"}],"dhcpOption121":"dhcp-option=121,10.244.1.0/24,192.168.1.11","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-02T03:04:05Z","reason":"Serving","message":"ok"}]}
            """));
    }

    [TestCase(":53", true)]
    [TestCase("0.0.0.0:53", true)]
    [TestCase("192.168.1.10:5353", true)]
    [TestCase("[::]:53", true)]
    [TestCase("[fd00::1]:53", true)]
    [TestCase("dns.lan:53", true)]
    [TestCase("53", false)]
    [TestCase("[::]", false)]
    [TestCase("0.0.0.0", false)]
    [TestCase(":", false)]
    [TestCase(": 53", false)]
    public void Listen_pattern(string listen, bool accepted) =>
        Assert.That(Matches(nameof(MiniLbConfigSpec.Listen), listen), Is.EqualTo(accepted));

    [TestCase("minilb", true)]
    [TestCase("lb.home.arpa", true)]
    [TestCase("k8s-1.lan", true)]
    [TestCase("Minilb", false)]
    [TestCase("-lb", false)]
    [TestCase("lb.", false)]
    [TestCase("a..b", false)]
    [TestCase("under_score", false)]
    public void Domain_pattern(string domain, bool accepted) =>
        Assert.That(Matches(nameof(MiniLbConfigSpec.Domain), domain), Is.EqualTo(accepted));

    private static bool Matches(string property, string value)
    {
        var pattern = typeof(MiniLbConfigSpec).GetProperty(property)!.GetCustomAttribute<PatternAttribute>()!.Regex;
        return Regex.IsMatch(value, pattern, RegexOptions.ECMAScript);
    }
}
