using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>The printer-column JSONPath of the test API server's tables, as kube-apiserver evaluates it for custom resources.</summary>
public sealed class TableJsonPathTests
{
    private static readonly JsonNode Config = JsonNode.Parse("""
        {"spec": {"domain": "lan"},
         "status": {
           "routes": [{"podCIDR": "10.244.0.0/24"}, {"podCIDR": "10.244.1.0/24"}],
           "conditions": [{"type": "DnsServing", "status": "True"}, {"type": "Ready", "status": "False"}]}}
        """)!;

    [TestCase(".spec.domain", "lan")]
    [TestCase("{.spec.domain}", "lan")]
    [TestCase(".status.routes[1].podCIDR", "10.244.1.0/24")]
    [TestCase(".status.routes[*].podCIDR", "10.244.0.0/24")] // several matches: the first, as kube-apiserver prints
    [TestCase(".status.conditions[?(@.type==\"Ready\")].status", "False")]
    [TestCase(".status.conditions[?(@.type=='DnsServing')].status", "True")]
    [TestCase(".status.conditions[?(@.type!=\"DnsServing\")].type", "Ready")]
    public void A_path_finds_its_value(string path, string expected) =>
        Assert.That(Tables.Evaluate(Config, path)?.ToString(), Is.EqualTo(expected));

    [TestCase(".spec.missing")]
    [TestCase(".status.routes[5].podCIDR")]
    [TestCase(".status.conditions[?(@.type==\"Nope\")].status")]
    public void A_path_without_a_match_is_empty(string path) =>
        Assert.That(Tables.Evaluate(Config, path), Is.Null);
}
