using k8s.Models;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Tests.Routes;

/// <summary>
/// Route planning as a table, in process: the nodes as the API server returns them, and every route and problem
/// the plan must hold. Routes read <c>node destination via gateway</c>; a problem reads <c>node: reason</c> and is
/// matched by the part of the reason a user needs (which field, which value). The common dual-stack cluster and the
/// output formats are in <see cref="RoutePlanTests"/>.
/// </summary>
public class RoutePlanCases
{
    /// <summary>One row: the nodes, the routes in order, and the problems (a fragment of each reason).</summary>
    public sealed record RouteCase(string Title, V1Node[] Nodes, string[] Routes, string[] Problems)
    {
        public override string ToString() => Title;
    }

    /// <summary>A node with its addresses as <c>type=address</c> and its <c>spec.podCIDRs</c> / <c>spec.podCIDR</c>.</summary>
    private static V1Node Node(string name, string[] addresses, string[]? podCidrs = null, string? podCidr = null, bool status = true) => new()
    {
        ApiVersion = "v1",
        Kind = "Node",
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1NodeSpec { PodCIDRs = podCidrs, PodCIDR = podCidr ?? podCidrs?.FirstOrDefault() },
        Status = status
            ? new V1NodeStatus { Addresses = [.. addresses.Select(a => a.Split('=', 2)).Select(a => new V1NodeAddress { Type = a[0], Address = a[1] })] }
            : null,
    };

    private static IEnumerable<TestCaseData> Cases() => new RouteCase[]
    {
        new("A node without podCIDR gets no route and says the CNI must allocate per node",
            [Node("bare", ["InternalIP=192.168.1.40"])],
            [],
            ["bare: no spec.podCIDRs"]),
        new("A node with only the older singular spec.podCIDR is routed",
            [Node("old", ["InternalIP=192.168.1.41"], podCidr: "10.244.7.0/24")],
            ["old 10.244.7.0/24 via 192.168.1.41"],
            []),
        new("Two IPv4 podCIDRs on one node both go via its InternalIP",
            [Node("two", ["InternalIP=192.168.1.42"], ["10.244.8.0/24", "10.245.8.0/24"])],
            ["two 10.244.8.0/24 via 192.168.1.42", "two 10.245.8.0/24 via 192.168.1.42"],
            []),
        new("An IPv6-only node is routed via its IPv6 InternalIP",
            [Node("six", ["InternalIP=fd00::43"], ["fd00:10:244:9::/64"])],
            ["six fd00:10:244:9::/64 via fd00::43"],
            []),
        new("Dual stack with the IPv6 InternalIP listed first: each podCIDR takes its own family",
            [Node("dual", ["InternalIP=fd00::44", "InternalIP=192.168.1.44"], ["10.244.10.0/24", "fd00:10:244:a::/64"])],
            ["dual 10.244.10.0/24 via 192.168.1.44", "dual fd00:10:244:a::/64 via fd00::44"],
            []),
        new("No InternalIP: an ExternalIP or a Hostname is never a gateway",
            [Node("edge", ["ExternalIP=203.0.113.45", "Hostname=edge"], ["10.244.11.0/24"])],
            [],
            ["edge: no IPv4 InternalIP in status.addresses for podCIDR 10.244.11.0/24"]),
        new("No status at all: the podCIDR is reported, not thrown on",
            [Node("new", [], ["10.244.12.0/24"], status: false)],
            [],
            ["new: no IPv4 InternalIP"]),
        new("The first InternalIP of the family in status order is the gateway; one that does not parse is skipped",
            [Node("multi", ["InternalIP=not-an-ip", "InternalIP=192.168.1.46", "InternalIP=192.168.1.99"], ["10.244.13.0/24"])],
            ["multi 10.244.13.0/24 via 192.168.1.46"],
            []),
        new("A podCIDR entry that is no CIDR is named, the node's other entries are routed",
            [Node("typo", ["InternalIP=192.168.1.47"], ["10.244.14.0/33", "10.244.15.0/24"])],
            ["typo 10.244.15.0/24 via 192.168.1.47"],
            ["typo: '10.244.14.0/33' is not a CIDR"]),
        new("Nodes are planned in name order whatever order the API lists them",
            [Node("node-b", ["InternalIP=192.168.1.49"], ["10.244.17.0/24"]), Node("node-a", ["InternalIP=192.168.1.48"], ["10.244.16.0/24"])],
            ["node-a 10.244.16.0/24 via 192.168.1.48", "node-b 10.244.17.0/24 via 192.168.1.49"],
            []),
    }.Select(c => new TestCaseData(c).SetName(c.Title));

    [TestCaseSource(nameof(Cases))]
    public void Plans(RouteCase row)
    {
        var plan = RoutePlan.FromNodes(row.Nodes);

        Assert.Multiple(() =>
        {
            Assert.That(plan.Routes.Select(r => $"{r.Node} {r.Destination} via {r.Gateway}"), Is.EqualTo(row.Routes), "routes");
            Assert.That(plan.Problems, Has.Count.EqualTo(row.Problems.Length), "problems: " + string.Join("; ", plan.Problems));
            foreach (var (problem, expected) in plan.Problems.Zip(row.Problems))
            {
                var nodeAndReason = expected.Split(": ", 2);
                Assert.That(problem.Node, Is.EqualTo(nodeAndReason[0]), "problem node");
                Assert.That(problem.Reason, Does.Contain(nodeAndReason[1]), $"problem of {nodeAndReason[0]}");
            }
        });
    }
}
