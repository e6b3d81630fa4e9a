using k8s.Models;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Manifests;

namespace MiniLb.Operator.Tests.Manifests;

public sealed class CrdGeneratorTests
{
    private V1CustomResourceDefinition crd = null!;
    private V1CustomResourceDefinitionVersion version = null!;
    private V1JSONSchemaProps spec = null!;
    private V1JSONSchemaProps status = null!;

    [OneTimeSetUp]
    public void Generate()
    {
        crd = CrdGenerator.Generate(typeof(MiniLbConfig));
        version = crd.Spec.Versions.Single();
        spec = version.Schema.OpenAPIV3Schema.Properties["spec"];
        status = version.Schema.OpenAPIV3Schema.Properties["status"];
    }

    [Test]
    public void Names_scope_and_version_are_those_of_the_entity()
    {
        Assert.That(crd.Metadata.Name, Is.EqualTo("minilbconfigs.minilb.io"));
        Assert.That(crd.Spec.Group, Is.EqualTo("minilb.io"));
        Assert.That(crd.Spec.Scope, Is.EqualTo("Cluster"));
        Assert.That(crd.Spec.Names, Has.Property("Kind").EqualTo("MiniLbConfig").And.Property("Plural").EqualTo("minilbconfigs")
            .And.Property("Singular").EqualTo("minilbconfig").And.Property("ListKind").EqualTo("MiniLbConfigList"));
        Assert.That(crd.Spec.Names.ShortNames, Is.EqualTo(new[] { "mlb" }));
        Assert.That(version, Has.Property("Name").EqualTo("v1alpha1").And.Property("Served").True.And.Property("Storage").True);
        Assert.That(version.Subresources?.Status, Is.Not.Null, "status is a subresource, so status writes cannot touch the spec");
    }

    [Test]
    public void Kubectl_get_shows_domain_ttl_listen_routes_ready_and_age()
    {
        var columns = version.AdditionalPrinterColumns.Select(c => (c.Name, c.JsonPath, c.Type));

        Assert.That(columns, Is.EqualTo(new[]
        {
            ("DOMAIN", ".spec.domain", "string"),
            ("TTL", ".spec.ttl", "integer"),
            ("LISTEN", ".spec.listen", "string"),
            ("ROUTES", ".status.reachableNodes", "string"),
            ("READY", """.status.conditions[?(@.type=="Ready")].status""", "string"),
            ("AGE", ".metadata.creationTimestamp", "date"),
        }));
    }

    [Test]
    public void Spec_fields_carry_their_types_defaults_and_bounds()
    {
        var fields = spec.Properties;
        Assert.That(fields.Keys, Is.EqualTo(new[] { "domain", "ttl", "listen", "loadBalancerClass", "nodeLiveness", "transfer", "forwarding" }));
        Assert.That(fields["domain"], Has.Property("Type").EqualTo("string").And.Property("DefaultProperty").EqualTo("minilb")
            .And.Property("MaxLength").EqualTo(253));
        Assert.That(fields["domain"].Pattern, Is.Not.Empty);
        Assert.That(fields["ttl"], Has.Property("Type").EqualTo("integer").And.Property("DefaultProperty").EqualTo(5)
            .And.Property("Minimum").EqualTo(1).And.Property("Maximum").EqualTo(3600));
        Assert.That(fields["listen"], Has.Property("DefaultProperty").EqualTo(":53"));
        Assert.That(fields["listen"].Pattern, Is.Not.Empty);
        Assert.That(fields["loadBalancerClass"].DefaultProperty, Is.EqualTo("minilb"));
        var liveness = fields["nodeLiveness"];
        Assert.That(liveness.DefaultProperty, Is.Not.Null, "a spec without nodeLiveness still gets its defaults");
        Assert.That(liveness.Properties["port"], Has.Property("DefaultProperty").EqualTo(10250).And.Property("Minimum").EqualTo(1).And.Property("Maximum").EqualTo(65535));
        Assert.That(liveness.Properties["intervalMilliseconds"], Has.Property("DefaultProperty").EqualTo(1000).And.Property("Minimum").EqualTo(200));
        Assert.That(liveness.Properties["failures"], Has.Property("DefaultProperty").EqualTo(2).And.Property("Maximum").EqualTo(10));
        Assert.That(liveness.Properties["enabled"], Has.Property("Type").EqualTo("boolean").And.Property("DefaultProperty").EqualTo(true));
        var forwarding = fields["forwarding"];
        Assert.That(forwarding.Properties["upstreams"], Has.Property("Type").EqualTo("array").And.Property("DefaultProperty").Null, "off unless upstreams are given");
        Assert.That(forwarding.Properties["timeoutMilliseconds"], Has.Property("DefaultProperty").EqualTo(2000).And.Property("Minimum").EqualTo(100));
        Assert.That(forwarding.Properties["maxInFlight"], Has.Property("DefaultProperty").EqualTo(100).And.Property("Maximum").EqualTo(10000));
        Assert.That(spec.DefaultProperty, Is.Not.Null, "a MiniLbConfig created without a spec still gets the defaults");
        Assert.That(spec.Required, Is.Null, "every spec field has a default");
    }

    [Test]
    public void Status_holds_routes_router_lines_conditions_and_counts()
    {
        Assert.That(status.Properties.Keys, Is.EquivalentTo(new[]
        {
            "observedGeneration", "routes", "reachableNodes", "router", "dhcpOption121", "conditions", "servedServices", "servedEndpoints",
        }));
        var route = (V1JSONSchemaProps)status.Properties["routes"].Items;
        Assert.That(route.Properties.Keys, Is.EqualTo(new[] { "node", "podCIDR", "via", "reachability", "since" }));
        Assert.That(route.Properties["since"].Format, Is.EqualTo("date-time"));
        Assert.That(route.Required, Is.EquivalentTo(new[] { "node", "podCIDR", "via" }));
        Assert.That(((V1JSONSchemaProps)status.Properties["router"].Items).Type, Is.EqualTo("string"));
        Assert.That(status.Properties["observedGeneration"].Format, Is.EqualTo("int64"));
    }

    [Test]
    public void Conditions_have_the_standard_metav1_shape_keyed_by_type()
    {
        var conditions = status.Properties["conditions"];
        var condition = (V1JSONSchemaProps)conditions.Items;

        Assert.That(conditions.XKubernetesListType, Is.EqualTo("map"));
        Assert.That(conditions.XKubernetesListMapKeys, Is.EqualTo(new[] { "type" }));
        Assert.That(condition.Required, Is.EquivalentTo(new[] { "type", "status", "lastTransitionTime", "reason", "message" }));
        Assert.That(condition.Properties["status"].EnumProperty, Is.EqualTo(new[] { "True", "False", "Unknown" }));
        Assert.That(condition.Properties["lastTransitionTime"].Format, Is.EqualTo("date-time"));
    }

    [Test]
    public void Every_field_has_a_description_for_kubectl_explain()
    {
        var missing = new List<string>();
        Walk(version.Schema.OpenAPIV3Schema, "", missing);
        Assert.That(missing, Is.Empty, "fields without [Description]");
    }

    private static void Walk(V1JSONSchemaProps schema, string path, List<string> missing)
    {
        if (path.Length > 0 && path != ".metadata" && string.IsNullOrWhiteSpace(schema.Description))
            missing.Add(path);
        foreach (var (name, property) in schema.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
            Walk(property, $"{path}.{name}", missing);
        if (schema.Items is V1JSONSchemaProps { Properties: not null } items)
        {
            foreach (var (name, property) in items.Properties)
                Walk(property, $"{path}[].{name}", missing);
        }
    }
}
