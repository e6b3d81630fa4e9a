using System.Text.Json.Nodes;
using ARSoft.Tools.Net.Dns;
using k8s;
using k8s.Models;

namespace MiniLb.Operator.Tests.Controllers;

public sealed class ServiceControllerTests : OperatorFixture
{
    [Test]
    public async Task A_served_Service_gets_its_hostname_loses_it_when_type_and_class_change_and_can_be_deleted()
    {
        await CreateConfigAsync(domain: "lan.example");
        await StartOperatorAsync();

        await CreateServiceAsync("default", "web");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.lan.example", "web gets its hostname");

        // loadBalancerClass is immutable while the type stays LoadBalancer: the class changes by way of another type.
        await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"type":"ClusterIP","loadBalancerClass":null}}""", V1Patch.PatchType.MergePatch), "web", "default");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") is null, "the hostname minilb wrote is removed when the type changes");
        await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"type":"LoadBalancer","loadBalancerClass":"other"}}""", V1Patch.PatchType.MergePatch), "web", "default");
        var other = await Client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        await CreateServiceAsync("default", "marker");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "marker") == "marker.default.lan.example", "a later Service is served");
        Assert.That(await HostnameOfAsync("default", "web"), Is.Null, "a Service of another class gets no minilb hostname");
        Assert.That((await Client.CoreV1.ReadNamespacedServiceAsync("web", "default")).Metadata.ResourceVersion, Is.EqualTo(other.Metadata.ResourceVersion));

        await DeleteServiceAsync("default", "web");
        await CreateServiceAsync("default", "web");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.lan.example", "a re-created Service is served again");
    }

    [Test]
    public async Task Services_of_other_classes_are_never_touched()
    {
        await CreateConfigAsync();
        await StartOperatorAsync();
        await CreateServiceAsync("default", "theirs", loadBalancerClass: "metallb");
        var theirs = await Client.CoreV1.ReadNamespacedServiceAsync("theirs", "default");
        theirs.Status.LoadBalancer.Ingress = [new V1LoadBalancerIngress { Ip = "192.0.2.7" }];
        var written = await Client.CoreV1.ReplaceNamespacedServiceStatusAsync(theirs, "theirs", "default");
        await CreateServiceAsync("default", "ours");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "ours") == "ours.default.minilb", "ours is served");
        var after = await Client.CoreV1.ReadNamespacedServiceAsync("theirs", "default");
        Assert.That(after.Status.LoadBalancer.Ingress.Select(i => i.Ip), Is.EqualTo(new[] { "192.0.2.7" }));
        Assert.That(after.Metadata.ResourceVersion, Is.EqualTo(written.Metadata.ResourceVersion), "nothing wrote to theirs");
        Assert.That((await EventsAsync()).Where(e => e.InvolvedObject.Name == "theirs"), Is.Empty);
    }

    [Test]
    public async Task A_port_whose_targetPort_differs_gets_a_Warning_event()
    {
        await CreateConfigAsync();
        await StartOperatorAsync();
        await CreateServiceAsync("default", "api", "minilb", new V1ServicePort { Name = "http", Port = 80, TargetPort = 8080 });

        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "PortDiffersFromTargetPort" && e.InvolvedObject.Name == "api"),
            "a PortDiffersFromTargetPort event on Service api");
        var warning = (await EventsAsync()).Single(e => e.Reason == "PortDiffersFromTargetPort");
        Assert.That(warning.Type, Is.EqualTo("Warning"));
        Assert.That(warning.Message, Does.Contain("targetPort 8080").And.Contain("api.default.minilb"));
    }

    [Test]
    public async Task A_new_domain_restamps_every_served_Service()
    {
        await CreateConfigAsync();
        await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await CreateServiceAsync("kube-public", "docs");
        await WaitUntilAsync(async () => await HostnameOfAsync("kube-public", "docs") == "docs.kube-public.minilb", "docs is served");

        await EditConfigAsync("""{"domain":"home.arpa"}""");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.home.arpa"
            && await HostnameOfAsync("kube-public", "docs") == "docs.kube-public.home.arpa", "both hostnames use the new domain");
    }

    [Test]
    public async Task A_replica_started_after_a_domain_change_still_removes_the_old_hostname_of_a_Service_that_stopped_being_a_LoadBalancer()
    {
        await CreateConfigAsync(domain: "one");
        var first = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await CreateServiceAsync("default", "theirs", loadBalancerClass: null);
        var theirs = await Client.CoreV1.ReadNamespacedServiceAsync("theirs", "default");
        theirs.Spec.Type = "NodePort";
        theirs = await Client.CoreV1.ReplaceNamespacedServiceAsync(theirs, "theirs", "default");
        theirs.Status.LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Hostname = "theirs.example.com" }] };
        await Client.CoreV1.ReplaceNamespacedServiceStatusAsync(theirs, "theirs", "default");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.one", "web is served");
        await StopOperatorAsync(first);

        // While no replica runs: a new domain, and web stops being a LoadBalancer. The next replica never saw "one".
        await EditConfigAsync("""{"domain":"two"}""");
        await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"type":"ClusterIP","loadBalancerClass":null}}""", V1Patch.PatchType.MergePatch), "web", "default");
        await StartOperatorAsync();
        await CreateServiceAsync("default", "marker");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") is null, "the stale web.default.one is removed");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "marker") == "marker.default.two", "the replica serves the new domain");
        Assert.That(await HostnameOfAsync("default", "theirs"), Is.EqualTo("theirs.example.com"), "a hostname not of minilb's shape stays");
    }

    [Test]
    public async Task An_excluded_LoadBalancer_loses_its_hostname_with_a_Normal_event_and_stops_answering()
    {
        var (_, port) = await ServingWebAsync();
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "web gets its hostname");

        await AnnotateAsync("web", "minilb/exclude", "true");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") is null, "the hostname is removed");
        await WaitUntilAsync(async () => (await QueryAsync(port, "web.default.minilb"))?.ReturnCode == ReturnCode.NxDomain, "DNS no longer answers web");
        var removed = (await EventsAsync()).Single(e => e.Reason == "HostnameRemoved" && e.InvolvedObject.Name == "web");
        Assert.That(removed.Type, Is.EqualTo("Normal"));
        Assert.That(removed.Message, Does.Contain("minilb/exclude"));

        await AnnotateAsync("web", "minilb/exclude", "false");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "\"false\" brings it back");
        await WaitUntilAsync(async () => await AddressesAsync(port, "web.default.minilb") is ["10.244.0.5"], "and DNS answers it again");
    }

    [Test]
    public async Task A_ClusterIP_Service_with_minilb_serve_answers_DNS_and_its_status_is_left_alone()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        var cache = TestObjects.Service("default", "cache", type: "ClusterIP", loadBalancerClass: null);
        cache.Metadata.Annotations = new Dictionary<string, string> { ["minilb/serve"] = "true" };
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(cache, "default");
        await SetEndpointsAsync("default", "cache", "10.244.0.7", "10.244.1.8");

        await WaitUntilAsync(async () => await AddressesAsync(port, "cache.default.minilb") is ["10.244.0.7", "10.244.1.8"], "DNS answers the ClusterIP Service's pods");
        var srv = await QueryAsync(port, "_http._tcp.cache.default.minilb", RecordType.Srv);
        Assert.That(srv?.AnswerRecords.OfType<SrvRecord>().Select(r => r.Port), Is.EqualTo(new ushort[] { 8080, 8080 }));
        await CreateServiceAsync("default", "marker");
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "marker") == "marker.default.minilb", "the controller has run past it");
        var after = await Client.CoreV1.ReadNamespacedServiceAsync("cache", "default");
        Assert.That(after.Status?.LoadBalancer?.Ingress, Is.Null.Or.Empty, "no status hostname: it is not a load balancer");
        Assert.That(after.Metadata.ResourceVersion, Is.EqualTo(created.Metadata.ResourceVersion), "nothing wrote to it");
        Assert.That((await EventsAsync()).Where(e => e.InvolvedObject.Name == "cache"), Is.Empty);
    }

    [Test]
    public async Task An_odd_annotation_value_gets_a_Warning_naming_it_and_counts_as_unset()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        await CreateServiceAsync("default", "web");
        await AnnotateAsync("web", "minilb/exclude", "yes");

        await WaitUntilAsync(async () => (await EventsAsync()).Any(e => e.Reason == "InvalidAnnotation" && e.InvolvedObject.Name == "web"), "an InvalidAnnotation event");
        var warning = (await EventsAsync()).Single(e => e.Reason == "InvalidAnnotation");
        Assert.That(warning.Type, Is.EqualTo("Warning"));
        Assert.That(warning.Message, Is.EqualTo("annotation minilb/exclude: 'yes' is not \"true\" or \"false\"; treated as not excluded"));
        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", "not excluded: the hostname is written");
        await WaitUntilAsync(async () => (await QueryAsync(DnsPort(minilb), "web.default.minilb"))?.ReturnCode == ReturnCode.NoError, "and DNS answers it");
    }

    [Test]
    public async Task StatefulSet_pods_of_a_headless_Service_answer_by_hostname_and_follow_their_slice()
    {
        await CreateConfigAsync();
        var minilb = await StartOperatorAsync();
        var port = DnsPort(minilb);
        var db = TestObjects.Service("default", "db", type: "ClusterIP", loadBalancerClass: null, ports: TestObjects.Port("postgres", 5432));
        db.Spec.ClusterIP = "None";
        db.Metadata.Annotations = new Dictionary<string, string> { ["minilb/serve"] = "true" };
        await Client.CoreV1.CreateNamespacedServiceAsync(db, "default");
        var slice = TestObjects.Slice("default", "db", "db-abcde", "IPv4", [Pod("10.244.0.40", "db-0"), Pod("10.244.1.41", "db-1")], TestObjects.SlicePort("postgres", 5432));
        var created = await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, "default");

        await WaitUntilAsync(async () => await AddressesAsync(port, "db-1.db.default.minilb") is ["10.244.1.41"], "db-1 answers with its own address");
        var srv = await QueryAsync(port, "_postgres._tcp.db.default.minilb", RecordType.Srv);
        Assert.That(srv?.AnswerRecords.OfType<SrvRecord>().Select(r => $"{r.Port} {r.Target.ToString(false)}").Order(),
            Is.EqualTo(new[] { "5432 db-0.db.default.minilb", "5432 db-1.db.default.minilb" }));

        // db-1 stops being ready and db-2 joins: one slice change, and the names follow.
        created.Endpoints = [Pod("10.244.0.40", "db-0"), Pod("10.244.1.41", "db-1", ready: false), Pod("10.244.2.42", "db-2")];
        await Client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(created, "db-abcde", "default");
        await WaitUntilAsync(async () => await AddressesAsync(port, "db-2.db.default.minilb") is ["10.244.2.42"], "db-2 answers");
        Assert.That((await QueryAsync(port, "db-1.db.default.minilb"))?.ReturnCode, Is.EqualTo(ReturnCode.NxDomain), "db-1 is not ready");
        Assert.That(await AddressesAsync(port, "db.default.minilb"), Is.EqualTo(new[] { "10.244.0.40", "10.244.2.42" }));
        Assert.That(await HostnameOfAsync("default", "db"), Is.Null, "a headless Service gets no status hostname");

        static V1Endpoint Pod(string address, string hostname, bool ready = true)
        {
            var endpoint = TestObjects.Endpoint(address, ready);
            endpoint.Hostname = hostname;
            return endpoint;
        }
    }

    private async Task AnnotateAsync(string name, string annotation, string value) =>
        await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch(new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [annotation] = value } } }.ToJsonString(), V1Patch.PatchType.MergePatch), name, "default");
}
