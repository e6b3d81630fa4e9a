using System.Net;
using MiniLb.Operator.Resolution;
using ARSoft.Tools.Net.Dns;
using static MiniLb.Operator.Tests.TestObjects;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>
/// The shape of the name space, in process, as CoreDNS's <c>wildcard_test.go</c> and <c>ent_test.go</c>: which
/// names exist, which are empty non-terminals, what a wildcard or an alias covers, where the zone ends. Each row is
/// a query and the whole response (<see cref="DnsCase"/>). Protocol rules (EDNS, opcodes, classes) are in
/// <c>Dns/ResponderCases</c>; how the model builds names from Kubernetes objects in <see cref="ClusterModelTests"/>.
/// </summary>
public class ZoneCases
{
    private const string ZoneSoa = "minilb 5 SOA ns1.minilb hostmaster.minilb {serial} 7200 1800 86400 5";
    private static readonly string[] NsGlue = ["ns1.minilb 5 A 192.168.1.53", "ns1.minilb 5 AAAA fd00::53"];

    private static readonly Zone Zone = Build();

    private static Zone Build()
    {
        var model = new ClusterModel(new ZoneSettings { NameServerAddresses = [IPAddress.Parse("192.168.1.53"), IPAddress.Parse("fd00::53")] });
        foreach (var item in new object[]
        {
            // Exact names, with an alias outside the zone and one inside it.
            Service("default", "web", hosts: "www.example.com, shop.apps.minilb"),
            Slice("default", "web", "web-1", "IPv4", Ready("10.244.0.11", "10.244.1.12")),
            Service("default", "idle"),
            Slice("default", "idle", "idle-1", "IPv4", [Endpoint("10.244.1.40", ready: false)]),
            Service("default", "exact"),
            Slice("default", "exact", "exact-1", "IPv4", Ready("10.0.0.3")),
            // Ingress wildcards (one label) through nginx, Gateway API wildcards (one or more labels) through envoy.
            Service("ingress", "nginx"),
            Slice("ingress", "nginx", "nginx-1", "IPv4", Ready("10.0.0.1")),
            Ingress("shop", "wild", ["*.ingress.example.com", "*.deep.routes.example.com", "*.dev.minilb"], "nginx.ingress.minilb"),
            Ingress("shop", "exact", ["a.routes.example.com"], "exact.default.minilb"),
            Service("gw", "envoy"),
            Slice("gw", "envoy", "envoy-1", "IPv4", Ready("10.0.0.2")),
            Gateway("gw", "public", "envoy.gw.minilb"),
            Route<V1HttpRoute>("shop", "wild", "gw", "public", "*.routes.example.com", "*.preview.minilb"),
        })
            model.Upsert(item);
        return model.Publish();
    }

    private static IEnumerable<TestCaseData> Cases() => new DnsCase[]
    {
        // Exact names: RFC 1034 §4.3.2 step 3a.
        new("RFC 1034 4.3.2 3a: a served name answers its addresses", "web.default.minilb")
        {
            Answer = ["web.default.minilb 5 A 10.244.0.11", "web.default.minilb 5 A 10.244.1.12"],
        },
        new("RFC 4343: a name matches in any case and the answer owner keeps the case asked", "WEB.Default.MiniLB")
        {
            Answer = ["WEB.Default.MiniLB 5 A 10.244.0.11", "WEB.Default.MiniLB 5 A 10.244.1.12"],
        },
        new("RFC 2308 2.2: a name without the type asked is NODATA with the zone SOA", "web.default.minilb", RecordType.Aaaa) { Authority = [ZoneSoa] },
        new("RFC 2308 2.2: a Service with no ready endpoint exists, NODATA", "idle.default.minilb") { Authority = [ZoneSoa] },
        new("RFC 2308 3: a name that does not exist is NXDOMAIN with the zone SOA", "nothing.default.minilb")
        {
            Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa],
        },
        new("RFC 8020: nothing exists below a name with data, NXDOMAIN", "x.web.default.minilb") { Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa] },

        // Empty non-terminals: NODATA, never NXDOMAIN (RFC 8020 §2, RFC 9156 resolvers would lose the subtree).
        new("RFC 8020: a namespace name is an empty non-terminal, NODATA", "default.minilb") { Authority = [ZoneSoa] },
        new("RFC 8020: the name between an in-zone alias and the apex is an empty non-terminal", "apps.minilb") { Authority = [ZoneSoa] },
        new("RFC 4592 2.2.1: the parent of a wildcard exists, and the wildcard does not match it", "preview.minilb") { Authority = [ZoneSoa] },
        new("RFC 4592 2.2.1: the parent of an Ingress wildcard inside the zone exists", "dev.minilb") { Authority = [ZoneSoa] },
        new("RFC 2308 2.2: a Service with no ready endpoint keeps its SRV name, NODATA", "_http._tcp.idle.default.minilb", RecordType.Srv) { Authority = [ZoneSoa] },
        new("RFC 8020: the _tcp level of a Service with no ready endpoint is an empty non-terminal", "_tcp.idle.default.minilb", RecordType.Srv) { Authority = [ZoneSoa] },

        // Aliases: the Service's addresses answered directly (no CNAME); one outside the zone is an apex of its own.
        new("Alias outside the zone answers the Service's addresses, no CNAME", "www.example.com")
        {
            Answer = ["www.example.com 5 A 10.244.0.11", "www.example.com 5 A 10.244.1.12"],
        },
        new("RFC 2308 2.2: NODATA at an alias outside the zone carries the alias's own SOA", "www.example.com", RecordType.Aaaa)
        {
            Authority = ["www.example.com 5 SOA ns1.minilb hostmaster.minilb {serial} 7200 1800 86400 5"],
        },
        new("RFC 1035 3.3.13: an alias outside the zone is the apex of its own zone: SOA", "www.example.com", RecordType.Soa)
        {
            Answer = ["www.example.com 5 SOA ns1.minilb hostmaster.minilb {serial} 7200 1800 86400 5"],
        },
        new("RFC 1034 4.2.1: an alias outside the zone is an apex: NS ns1 with glue", "www.example.com", RecordType.Ns)
        {
            Answer = ["www.example.com 5 NS ns1.minilb"], Additional = NsGlue,
        },
        new("Below an alias outside the zone is not ours: REFUSED", "x.www.example.com") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("The parent of an alias outside the zone is not ours: REFUSED", "example.com") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("Alias inside the zone answers the Service's addresses", "shop.apps.minilb")
        {
            Answer = ["shop.apps.minilb 5 A 10.244.0.11", "shop.apps.minilb 5 A 10.244.1.12"],
        },
        new("RFC 2308 2.2: an alias inside the zone is no apex: SOA there is NODATA citing the zone", "shop.apps.minilb", RecordType.Soa) { Authority = [ZoneSoa] },
        new("RFC 8020: below an alias inside the zone is NXDOMAIN", "x.shop.apps.minilb") { Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa] },

        // Wildcards: the answer owner is the name asked (RFC 4592 §3.3.1); Ingress matches one label, Gateway API more.
        new("RFC 4592 3.3.1: an Ingress wildcard answers one label with the name asked as owner", "a.ingress.example.com")
        {
            Answer = ["a.ingress.example.com 5 A 10.0.0.1"],
        },
        new("Ingress wildcard does not match two labels: REFUSED outside the zone", "b.a.ingress.example.com") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("RFC 4592 2.2.1: a wildcard does not match its own parent: REFUSED outside the zone", "ingress.example.com") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("A name matched by a wildcard outside the zone is an apex: SOA owned by the name asked", "a.ingress.example.com", RecordType.Soa)
        {
            Answer = ["a.ingress.example.com 5 SOA ns1.minilb hostmaster.minilb {serial} 7200 1800 86400 5"],
        },
        new("Gateway API wildcard matches one label", "b.routes.example.com") { Answer = ["b.routes.example.com 5 A 10.0.0.2"] },
        new("Gateway API wildcard matches several labels", "d.c.b.routes.example.com") { Answer = ["d.c.b.routes.example.com 5 A 10.0.0.2"] },
        new("RFC 4592 2.2: an exact name beats a wildcard", "a.routes.example.com") { Answer = ["a.routes.example.com 5 A 10.0.0.3"] },
        new("The closest wildcard wins: Ingress *.deep under Gateway *.routes", "x.deep.routes.example.com") { Answer = ["x.deep.routes.example.com 5 A 10.0.0.1"] },
        new("Two labels below Ingress *.deep fall to the Gateway wildcard above", "y.x.deep.routes.example.com") { Answer = ["y.x.deep.routes.example.com 5 A 10.0.0.2"] },
        new("Gateway API wildcard inside the zone matches several labels", "y.x.preview.minilb") { Answer = ["y.x.preview.minilb 5 A 10.0.0.2"] },
        new("RFC 2308 2.2: NODATA on a wildcard inside the zone cites the zone SOA", "x.preview.minilb", RecordType.Aaaa) { Authority = [ZoneSoa] },
        new("Ingress wildcard inside the zone answers one label", "a.dev.minilb") { Answer = ["a.dev.minilb 5 A 10.0.0.1"] },
        new("RFC 2308 3: two labels below an Ingress wildcard inside the zone are NXDOMAIN, not REFUSED", "b.a.dev.minilb")
        {
            Rcode = ReturnCode.NxDomain, Authority = [ZoneSoa],
        },

        // The apex: SOA and NS live here (RFC 1035 §3.3.13, RFC 1034 §4.2.1); ns1 resolves.
        new("RFC 1035 3.3.13: SOA at the apex with MINIMUM = TTL, RFC 2308 5", "minilb", RecordType.Soa) { Answer = [ZoneSoa] },
        new("RFC 1034 4.2.1: NS at the apex names ns1 with A and AAAA glue", "minilb", RecordType.Ns) { Answer = ["minilb 5 NS ns1.minilb"], Additional = NsGlue },
        new("RFC 2308 2.2: A at the apex is NODATA", "minilb") { Authority = [ZoneSoa] },
        new("The NS target resolves: A", "ns1.minilb") { Answer = ["ns1.minilb 5 A 192.168.1.53"] },
        new("The NS target resolves: AAAA", "ns1.minilb", RecordType.Aaaa) { Answer = ["ns1.minilb 5 AAAA fd00::53"] },
        new("RFC 2308 2.2: NS below the apex is NODATA: no delegations", "default.minilb", RecordType.Ns) { Authority = [ZoneSoa] },

        // Out of zone: REFUSED without AA and without SOA (as CoreDNS and Knot); minilb is no resolver.
        new("Out of zone: a name ending in the apex's letters is not below it", "xminilb") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("Out of zone: the apex as a label of another name", "minilb.example.com") { Rcode = ReturnCode.Refused, Authoritative = false },
        new("Out of zone: the root", ".", RecordType.Ns) { Rcode = ReturnCode.Refused, Authoritative = false },
    }.Select(c => c.AsTestCase());

    [TestCaseSource(nameof(Cases))]
    public void Answers(DnsCase row) => row.AssertAnsweredBy(Zone);
}
