using System.Text.Json.Nodes;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;

namespace MiniLb.Operator.Tests.Cluster;

public sealed class KubernetesClientTests : ApiServerFixture
{
    protected override TestApiServerOptions Options => new() { BookmarkInterval = TimeSpan.FromMilliseconds(200), HistoryLimit = 50 };

    private static V1ConfigMap ConfigMap(string name, IDictionary<string, string>? labels = null, IList<string>? finalizers = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = labels, Finalizers = finalizers },
        Data = new Dictionary<string, string> { ["key"] = "value" },
    };

    private static V1Service LoadBalancer(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            LoadBalancerClass = "minilb",
            Ports = [new V1ServicePort { Name = "http", Port = 80 }],
        },
    };

    [Test]
    public async Task Create_fills_server_metadata_and_get_returns_the_same_object()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("settings"), "default");
        var read = await Client.CoreV1.ReadNamespacedConfigMapAsync("settings", "default");

        Assert.That(created.Metadata.Uid, Is.Not.Empty);
        Assert.That(created.Metadata.ResourceVersion, Is.Not.Empty);
        Assert.That(created.Metadata.CreationTimestamp, Is.EqualTo(DateTime.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(read.Metadata.Uid, Is.EqualTo(created.Metadata.Uid));
        Assert.That(read.Metadata.ResourceVersion, Is.EqualTo(created.Metadata.ResourceVersion));
        Assert.That(read.Data["key"], Is.EqualTo("value"));
    }

    [Test]
    public async Task Missing_object_is_a_404_NotFound_Status()
    {
        var (code, status) = await FailureOf(() => Client.CoreV1.ReadNamespacedConfigMapAsync("absent", "default"));

        Assert.That(code, Is.EqualTo(404));
        Assert.That(status["kind"]!.GetValue<string>(), Is.EqualTo("Status"));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("NotFound"));
        Assert.That(status["message"]!.GetValue<string>(), Is.EqualTo("configmaps \"absent\" not found"));
        Assert.That(status["details"]!["name"]!.GetValue<string>(), Is.EqualTo("absent"));
        Assert.That(status["details"]!["kind"]!.GetValue<string>(), Is.EqualTo("configmaps"));
    }

    [Test]
    public async Task Creating_twice_is_a_409_AlreadyExists_Status()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("twice"), "default");

        var (code, status) = await FailureOf(() => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("twice"), "default"));

        Assert.That(code, Is.EqualTo(409));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("AlreadyExists"));
    }

    [Test]
    public async Task Creating_in_a_missing_namespace_is_a_404_naming_the_namespace()
    {
        var (code, status) = await FailureOf(() => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("lost"), "nowhere"));

        Assert.That(code, Is.EqualTo(404));
        Assert.That(status["message"]!.GetValue<string>(), Is.EqualTo("namespaces \"nowhere\" not found"));
    }

    [Test]
    public async Task Update_with_a_stale_resourceVersion_is_a_409_Conflict()
    {
        var first = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("contended"), "default");
        first.Data["key"] = "writer one";
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "contended", "default");

        first.Data["key"] = "writer two, from a stale read";
        var (code, status) = await FailureOf(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "contended", "default"));

        Assert.That(code, Is.EqualTo(409));
        Assert.That(status["reason"]!.GetValue<string>(), Is.EqualTo("Conflict"));
        Assert.That(status["message"]!.GetValue<string>(), Does.Contain("the object has been modified"));
        var stored = await Client.CoreV1.ReadNamespacedConfigMapAsync("contended", "default");
        Assert.That(stored.Data["key"], Is.EqualTo("writer one"));
    }

    [Test]
    public async Task Writes_to_a_service_ignore_status_and_writes_to_its_status_change_only_status()
    {
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), "default");
        var ingress = new JsonObject { ["status"] = new JsonObject { ["loadBalancer"] = new JsonObject { ["ingress"] = new JsonArray(new JsonObject { ["hostname"] = "web.default.minilb" }) } } };

        // A status patch on the object itself is ignored.
        await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch(ingress.ToJsonString(), V1Patch.PatchType.MergePatch), "web", "default");
        var afterMainPatch = await Client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        // A spec change on /status is ignored.
        var statusPatch = (JsonObject)ingress.DeepClone();
        statusPatch["spec"] = new JsonObject { ["loadBalancerClass"] = "other" };
        var patched = await Client.CoreV1.PatchNamespacedServiceStatusAsync(new V1Patch(statusPatch.ToJsonString(), V1Patch.PatchType.MergePatch), "web", "default");

        Assert.That(afterMainPatch.Status?.LoadBalancer?.Ingress, Is.Null.Or.Empty);
        Assert.That(patched.Status.LoadBalancer.Ingress.Single().Hostname, Is.EqualTo("web.default.minilb"));
        Assert.That(patched.Spec.LoadBalancerClass, Is.EqualTo("minilb"));
        Assert.That(patched.Metadata.Generation, Is.EqualTo(created.Metadata.Generation), "a status write is not a spec change");
        Assert.That(patched.Spec.ClusterIP, Is.Not.Empty, "the server allocates a cluster IP");
    }

    [Test]
    public async Task Generation_counts_spec_changes_only()
    {
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("counted"), "default");
        var labelled = await Client.CoreV1.PatchNamespacedServiceAsync(
            new V1Patch("""{"metadata":{"labels":{"tier":"front"}}}""", V1Patch.PatchType.MergePatch), "counted", "default");
        var respecified = await Client.CoreV1.PatchNamespacedServiceAsync(
            new V1Patch("""{"spec":{"ports":[{"name":"https","port":443}]}}""", V1Patch.PatchType.MergePatch), "counted", "default");

        Assert.That(created.Metadata.Generation, Is.EqualTo(1));
        Assert.That(labelled.Metadata.Generation, Is.EqualTo(1));
        Assert.That(respecified.Metadata.Generation, Is.EqualTo(2));
        Assert.That(long.Parse(respecified.Metadata.ResourceVersion), Is.GreaterThan(long.Parse(labelled.Metadata.ResourceVersion)));
    }

    [Test]
    public async Task A_write_that_changes_nothing_keeps_the_resourceVersion()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("steady"), "default");
        var again = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"data":{"key":"value"}}""", V1Patch.PatchType.MergePatch), "steady", "default");

        Assert.That(again.Metadata.ResourceVersion, Is.EqualTo(created.Metadata.ResourceVersion));
    }

    [Test]
    public async Task Json_patch_and_strategic_merge_patch_edit_the_object()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("patched"), "default");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""[{"op":"add","path":"/data/second","value":"2"},{"op":"remove","path":"/data/key"}]""", V1Patch.PatchType.JsonPatch), "patched", "default");
        var result = await Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"data":{"third":"3"}}""", V1Patch.PatchType.StrategicMergePatch), "patched", "default");

        Assert.That(result.Data, Is.EquivalentTo(new Dictionary<string, string> { ["second"] = "2", ["third"] = "3" }));
    }

    [Test]
    public async Task Label_selectors_support_every_operator()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a", new Dictionary<string, string> { ["app"] = "web", ["tier"] = "front" }), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b", new Dictionary<string, string> { ["app"] = "web", ["tier"] = "back" }), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c", new Dictionary<string, string> { ["app"] = "db" }), "default");

        async Task<string[]> Names(string selector) =>
            (await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: selector)).Items.Select(i => i.Metadata.Name).ToArray();

        Assert.That(await Names("app=web"), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(await Names("app==web,tier!=front"), Is.EqualTo(new[] { "b" }));
        Assert.That(await Names("tier in (front, back)"), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(await Names("tier notin (front)"), Is.EqualTo(new[] { "b", "c" }));
        Assert.That(await Names("tier"), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(await Names("!tier"), Is.EqualTo(new[] { "c" }));
    }

    [Test]
    public async Task Field_selectors_pick_by_name_and_namespace()
    {
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "other" } });
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("same"), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("same"), "other");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("different"), "other");

        var byName = await Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: "metadata.name=same");
        var byNamespace = await Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: "metadata.namespace=other,metadata.name!=same");

        Assert.That(byName.Items.Select(i => i.Metadata.NamespaceProperty), Is.EqualTo(new[] { "default", "other" }));
        Assert.That(byNamespace.Items.Select(i => i.Metadata.Name), Is.EqualTo(new[] { "different" }));
    }

    [Test]
    public async Task Limit_and_continue_page_through_a_list()
    {
        var names = Enumerable.Range(0, 7).Select(i => $"page-{i}").ToList();
        foreach (var name in names) await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap(name), "default");

        var seen = new List<string>();
        string? next = null;
        var pages = 0;
        do
        {
            var page = await Client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 3, continueParameter: next);
            seen.AddRange(page.Items.Select(i => i.Metadata.Name));
            next = page.Metadata.ContinueProperty;
            pages++;
        }
        while (!string.IsNullOrEmpty(next));

        Assert.That(pages, Is.EqualTo(3));
        Assert.That(seen, Is.EqualTo(names));
    }

    [Test]
    public async Task Watch_from_a_resourceVersion_replays_what_happened_since()
    {
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("first"), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("second"), "default");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"key":"changed"}}""", V1Patch.PatchType.MergePatch), "first", "default");
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("second", "default");

        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: listed.Metadata.ResourceVersion,
            onError: e => Assert.Fail(e.Message), cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var replay = await Take(events, 4);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("third"), "default");
        var live = await Take(events, 1);

        Assert.That(replay.Select(e => (e.Type, e.Object.Metadata.Name)), Is.EqualTo(new[]
        {
            (WatchEventType.Added, "first"), (WatchEventType.Added, "second"), (WatchEventType.Modified, "first"), (WatchEventType.Deleted, "second"),
        }));
        Assert.That(replay[2].Object.Data["key"], Is.EqualTo("changed"));
        Assert.That(live.Single().Type, Is.EqualTo(WatchEventType.Added));
        Assert.That(live.Single().Object.Metadata.Name, Is.EqualTo("third"));
    }

    [Test]
    public async Task Watch_without_a_resourceVersion_starts_with_the_current_objects()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("existing"), "default");

        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var initial = await Take(events, 1);

        Assert.That(initial.Single().Type, Is.EqualTo(WatchEventType.Added));
        Assert.That(initial.Single().Object.Metadata.Name, Is.EqualTo("existing"));
    }

    [Test]
    public async Task Watch_with_a_label_selector_sees_an_object_leave_the_selection_as_deleted()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("mover", new Dictionary<string, string> { ["app"] = "web" }), "default");
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");

        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", labelSelector: "app=web",
            resourceVersion: listed.Metadata.ResourceVersion, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"app":"db"}}}""", V1Patch.PatchType.MergePatch), "mover", "default");
        var seen = await Take(events, 1);

        Assert.That(seen.Single().Type, Is.EqualTo(WatchEventType.Deleted));
    }

    [Test]
    public async Task An_idle_watch_with_bookmarks_gets_bookmarks_at_the_current_resourceVersion()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("quiet"), "default");

        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true,
            resourceVersion: created.Metadata.ResourceVersion, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var seen = await Take(events, 1);

        Assert.That(seen.Single().Type, Is.EqualTo(WatchEventType.Bookmark));
        Assert.That(seen.Single().Object.Metadata.ResourceVersion, Is.EqualTo(created.Metadata.ResourceVersion));
    }

    [Test]
    public async Task A_watch_ends_after_timeoutSeconds()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("only"), "default");
        using var deadline = Deadline();
        var started = DateTime.UtcNow;
        var events = await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default", timeoutSeconds: 1, cancellationToken: deadline.Token)
            .GetAsyncEnumerator(deadline.Token), 100);

        Assert.That(events.Select(e => e.Object.Metadata.Name), Is.EqualTo(new[] { "only" }));
        Assert.That(DateTime.UtcNow - started, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9)).And.LessThan(Patience));
    }

    [Test]
    public void A_watch_that_ends_before_its_first_line_is_an_error_in_KubernetesClient()
    {
        // kube-apiserver sends nothing on a quiet watch that times out; KubernetesClient 21.0.8 peeks the first
        // line and throws. Informers must treat this like any other end of a watch.
        using var deadline = Deadline();
        var ended = Assert.ThrowsAsync<HttpRequestException>(async () => await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync(
            "default", timeoutSeconds: 1, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token), 1));

        Assert.That(ended!.InnerException, Is.TypeOf<EndOfStreamException>());
    }

    [Test]
    public async Task Watch_from_a_resourceVersion_older_than_the_history_gets_410_Expired_through_onError()
    {
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        for (var i = 0; i < 60; i++) await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"churn-{i}"), "default");

        using var deadline = Deadline();
        var errors = new List<Exception>();
        var events = await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: listed.Metadata.ResourceVersion,
            onError: errors.Add, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token), 1);

        Assert.That(events, Is.Empty);
        var expired = errors.OfType<KubernetesException>().Single();
        Assert.That(expired.Status.Code, Is.EqualTo(410));
        Assert.That(expired.Status.Reason, Is.EqualTo("Expired"));
        Assert.That(expired.Status.Message, Does.StartWith("too old resource version"));
    }

    [Test]
    public async Task Delete_of_an_object_with_finalizers_waits_until_they_are_removed()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("guarded", finalizers: ["test.minilb.io/cleanup"]), "default");
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("guarded", "default");
        var terminating = await Client.CoreV1.ReadNamespacedConfigMapAsync("guarded", "default");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), "guarded", "default");
        var (code, _) = await FailureOf(() => Client.CoreV1.ReadNamespacedConfigMapAsync("guarded", "default"));

        Assert.That(terminating.Metadata.DeletionTimestamp, Is.Not.Null);
        Assert.That(code, Is.EqualTo(404));
        using var deadline = Deadline();
        var events = await Take(Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: listed.Metadata.ResourceVersion,
            cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token), 2);
        Assert.That(events.Select(e => e.Type), Is.EqualTo(new[] { WatchEventType.Modified, WatchEventType.Deleted }));
    }

    [Test]
    public async Task Cluster_scoped_nodes_are_listed_without_a_namespace_and_keep_their_status_on_create()
    {
        await Client.CoreV1.CreateNodeAsync(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = "node-1" },
            Spec = new V1NodeSpec { PodCIDR = "10.244.1.0/24" },
            Status = new V1NodeStatus { Addresses = [new V1NodeAddress { Type = "InternalIP", Address = "192.168.1.11" }] },
        });

        var nodes = await Client.CoreV1.ListNodeAsync();

        Assert.That(nodes.Items.Single().Metadata.NamespaceProperty, Is.Null);
        Assert.That(nodes.Items.Single().Status.Addresses.Single().Address, Is.EqualTo("192.168.1.11"));
    }

    private LeaderElector Candidate(string identity, TaskCompletionSource leading)
    {
        var elector = new LeaderElector(new LeaderElectionConfig(new LeaseLock(Client, "default", "minilb-leader", identity))
        {
            LeaseDuration = TimeSpan.FromSeconds(4), RenewDeadline = TimeSpan.FromSeconds(3), RetryPeriod = TimeSpan.FromMilliseconds(300),
        });
        elector.OnStartedLeading += () => leading.TrySetResult();
        return elector;
    }

    [Test]
    public async Task Leader_election_with_a_lease_hands_over_when_the_leader_stops()
    {
        var firstLeads = new TaskCompletionSource();
        var secondLeads = new TaskCompletionSource();
        using var stopFirst = Deadline();
        using var stopSecond = Deadline();
        var first = Candidate("candidate-1", firstLeads).RunUntilLeadershipLostAsync(stopFirst.Token);
        await firstLeads.Task.WaitAsync(Patience);
        var second = Candidate("candidate-2", secondLeads).RunUntilLeadershipLostAsync(stopSecond.Token);

        var heldWhileFirstRenews = await Task.WhenAny(secondLeads.Task, Task.Delay(TimeSpan.FromSeconds(2))) != secondLeads.Task;
        await stopFirst.CancelAsync();
        await secondLeads.Task.WaitAsync(Patience);
        var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync("minilb-leader", "default");
        await stopSecond.CancelAsync();
        foreach (var run in new[] { first, second })
        {
            try { await run; } catch (OperationCanceledException) { }
        }

        Assert.That(heldWhileFirstRenews, Is.True, "the second candidate waits while the leader renews");
        Assert.That(lease.Spec.HolderIdentity, Is.EqualTo("candidate-2"));
        Assert.That(lease.Spec.LeaseTransitions, Is.EqualTo(1));
    }

    [Test]
    public async Task Core_events_can_be_recorded_and_listed_by_involved_object()
    {
        await Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = "web.1" },
            InvolvedObject = new V1ObjectReference { Kind = "Service", Name = "web", NamespaceProperty = "default" },
            Reason = "HostnameAssigned", Message = "web.default.minilb", Type = "Normal", Count = 1,
        }, "default");

        var events = await Client.CoreV1.ListNamespacedEventAsync("default", fieldSelector: "involvedObject.name=web");

        Assert.That(events.Items.Single().Reason, Is.EqualTo("HostnameAssigned"));
    }

    [Test]
    public async Task Status_of_a_cluster_scoped_custom_resource_takes_a_merge_patch()
    {
        await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(new V1CustomResourceDefinition
        {
            Metadata = new V1ObjectMeta { Name = "configs.test.minilb.io" },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = "test.minilb.io", Scope = "Cluster",
                Names = new V1CustomResourceDefinitionNames { Kind = "Config", Plural = "configs" },
                Versions =
                [
                    new V1CustomResourceDefinitionVersion
                    {
                        Name = "v1", Served = true, Storage = true,
                        Subresources = new V1CustomResourceSubresources { Status = new object() },
                        Schema = new V1CustomResourceValidation { OpenAPIV3Schema = new V1JSONSchemaProps { Type = "object", XKubernetesPreserveUnknownFields = true } },
                    },
                ],
            },
        });
        await Client.CustomObjects.CreateClusterCustomObjectAsync(
            new { apiVersion = "test.minilb.io/v1", kind = "Config", metadata = new { name = "cluster" }, spec = new { domain = "minilb" } },
            "test.minilb.io", "v1", "configs");

        await Client.CustomObjects.PatchClusterCustomObjectStatusAsync(
            new V1Patch("""{"status":{"routes":["10.244.1.0/24 via 192.168.1.11"]}}""", V1Patch.PatchType.MergePatch),
            "test.minilb.io", "v1", "configs", "cluster");
        var read = JsonNode.Parse(((System.Text.Json.JsonElement)await Client.CustomObjects.GetClusterCustomObjectAsync("test.minilb.io", "v1", "configs", "cluster")).GetRawText())!;

        Assert.That(read["status"]!["routes"]![0]!.GetValue<string>(), Is.EqualTo("10.244.1.0/24 via 192.168.1.11"));
        Assert.That(read["spec"]!["domain"]!.GetValue<string>(), Is.EqualTo("minilb"));
        Assert.That(read["metadata"]!["generation"]!.GetValue<long>(), Is.EqualTo(1));
    }

    [Test]
    public async Task Server_side_apply_creates_then_merges_and_drops_fields_the_manager_stopped_applying()
    {
        static V1Patch Apply(string data) => new($$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{{data}}}""", V1Patch.PatchType.ApplyPatch);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply("""{"a":"1","b":"2"}"""), "applied", "default", fieldManager: "tool");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"other":"kept"}}""", V1Patch.PatchType.MergePatch), "applied", "default");

        var result = await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply("""{"a":"10"}"""), "applied", "default", fieldManager: "tool");

        Assert.That(result.Data, Is.EquivalentTo(new Dictionary<string, string> { ["a"] = "10", ["other"] = "kept" }));
        Assert.That(result.Metadata.ManagedFields.Single(f => f.Manager == "tool").Operation, Is.EqualTo("Apply"));
    }

    [Test]
    public async Task An_immediate_delete_answers_a_Success_Status()
    {
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("brief"), "default");

        var status = await Client.CoreV1.DeleteNamespacedConfigMapAsync("brief", "default");

        Assert.That(status.Status, Is.EqualTo("Success"));
        Assert.That(status.Details.Name, Is.EqualTo("brief"));
        Assert.That(status.Details.Uid, Is.EqualTo(created.Metadata.Uid));
    }

    [Test]
    public async Task Dry_run_validates_without_storing()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("imagined"), "default", dryRun: "All");

        var (code, _) = await FailureOf(() => Client.CoreV1.ReadNamespacedConfigMapAsync("imagined", "default"));

        Assert.That(code, Is.EqualTo(404));
    }
    [Test]
    public async Task Deleting_a_namespace_removes_its_objects_and_waits_for_their_finalizers()
    {
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "doomed" } });
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("plain"), "doomed");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("held", finalizers: ["test.minilb.io/hold"]), "doomed");

        await Client.CoreV1.DeleteNamespaceAsync("doomed");
        var terminating = await Client.CoreV1.ReadNamespaceAsync("doomed");
        var left = await Client.CoreV1.ListNamespacedConfigMapAsync("doomed");
        var (refused, _) = await FailureOf(() => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("late"), "doomed"));
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":[]}}""", V1Patch.PatchType.MergePatch), "held", "doomed");
        var (gone, _) = await FailureOf(() => Client.CoreV1.ReadNamespaceAsync("doomed"));

        Assert.That(terminating.Status.Phase, Is.EqualTo("Terminating"));
        Assert.That(left.Items.Select(i => i.Metadata.Name), Is.EqualTo(new[] { "held" }));
        Assert.That(refused, Is.EqualTo(403));
        Assert.That(gone, Is.EqualTo(404));
    }

    [Test]
    public async Task Replacing_a_missing_lease_creates_it()
    {
        var lease = await Client.CoordinationV1.ReplaceNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "fresh" },
            Spec = new V1LeaseSpec { HolderIdentity = "me", LeaseDurationSeconds = 15 },
        }, "fresh", "default");

        Assert.That(lease.Metadata.Uid, Is.Not.Empty);
        Assert.That((await Client.CoordinationV1.ReadNamespacedLeaseAsync("fresh", "default")).Spec.HolderIdentity, Is.EqualTo("me"));
    }

    [Test]
    public async Task Delete_collection_removes_what_the_selector_picks()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("keep", new Dictionary<string, string> { ["app"] = "db" }), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("drop-1", new Dictionary<string, string> { ["app"] = "web" }), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("drop-2", new Dictionary<string, string> { ["app"] = "web" }), "default");

        await Client.CoreV1.DeleteCollectionNamespacedConfigMapAsync("default", labelSelector: "app=web");

        var left = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        Assert.That(left.Items.Select(i => i.Metadata.Name), Is.EqualTo(new[] { "keep" }));
    }

    [Test]
    public async Task A_strategic_merge_patch_updates_one_container_by_name()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "app" },
            Spec = new V1DeploymentSpec
            {
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "app" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "app" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "main", Image = "main:1" }, new V1Container { Name = "sidecar", Image = "side:1" }] },
                },
            },
        }, "default");

        var patched = await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(
            """{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"side:2"}]}}}}""", V1Patch.PatchType.StrategicMergePatch), "app", "default");

        Assert.That(patched.Spec.Template.Spec.Containers.Select(c => (c.Name, c.Image)), Is.EqualTo(new[] { ("main", "main:1"), ("sidecar", "side:2") }));
        Assert.That(patched.Metadata.Generation, Is.EqualTo(2));
    }

    [Test]
    public async Task A_watch_of_one_namespace_sees_nothing_from_others()
    {
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "elsewhere" } });
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");

        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: listed.Metadata.ResourceVersion,
            cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("other"), "elsewhere");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("mine"), "default");
        var seen = await Take(events, 1);

        Assert.That(seen.Single().Object.Metadata.Name, Is.EqualTo("mine"));
    }

    [Test]
    public async Task Send_initial_events_ends_the_initial_list_with_a_marked_bookmark()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("initial"), "default");

        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true, sendInitialEvents: true,
            resourceVersionMatch: "NotOlderThan", cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var seen = await Take(events, 2);

        Assert.That(seen.Select(e => e.Type), Is.EqualTo(new[] { WatchEventType.Added, WatchEventType.Bookmark }));
        Assert.That(seen[1].Object.Metadata.Annotations["k8s.io/initial-events-end"], Is.EqualTo("true"));
    }

    [Test]
    public async Task An_informer_resuming_after_its_watch_closed_misses_nothing()
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("before"), "default");
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 500);
        using var deadline = Deadline();

        var first = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true,
            resourceVersion: listed.Metadata.ResourceVersion, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("during"), "default");
        var seen = (await TakeChanges(first, 1)).Single();
        Server.CloseWatches();
        while (await first.MoveNextAsync()) { }
        await first.DisposeAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("between"), "default");
        await using var resumed = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true,
            resourceVersion: seen.Object.Metadata.ResourceVersion, cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);
        var caughtUp = await TakeChanges(resumed, 1);

        Assert.That(seen.Object.Metadata.Name, Is.EqualTo("during"));
        Assert.That(caughtUp.Single().Type, Is.EqualTo(WatchEventType.Added));
        Assert.That(caughtUp.Single().Object.Metadata.Name, Is.EqualTo("between"));
    }

    [Test]
    public async Task Concurrent_writers_and_readers_see_every_change_once_in_resourceVersion_order()
    {
        var listed = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        using var deadline = Deadline();
        await using var events = Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: listed.Metadata.ResourceVersion,
            cancellationToken: deadline.Token).GetAsyncEnumerator(deadline.Token);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(async writer =>
        {
            for (var i = 0; i < 10; i++)
            {
                await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"w{writer}-{i}"), "default");
                await Client.CoreV1.ListNamespacedConfigMapAsync("default");
            }
        }));
        var seen = await Take(events, 80);

        var versions = seen.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
        Assert.That(versions, Is.Ordered.And.Unique);
        Assert.That(seen.Select(e => e.Object.Metadata.Name).Distinct().Count(), Is.EqualTo(80));
    }

    [Test]
    public async Task Deleting_an_owner_deletes_its_dependents_unless_orphaned()
    {
        var owner = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("owner"), "default");
        var orphanOwner = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("orphan-owner"), "default");
        V1ConfigMap Dependent(string name, V1ConfigMap of)
        {
            var dependent = ConfigMap(name);
            dependent.Metadata.OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = of.Metadata.Name, Uid = of.Metadata.Uid }];
            return dependent;
        }
        await Client.CoreV1.CreateNamespacedConfigMapAsync(Dependent("owned", owner), "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(Dependent("kept", orphanOwner), "default");

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", "default");
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("orphan-owner", "default", propagationPolicy: "Orphan");

        var left = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        Assert.That(left.Items.Select(i => i.Metadata.Name), Is.EqualTo(new[] { "kept" }));
    }

    [Test]
    public async Task An_invalid_service_is_a_422_naming_each_field()
    {
        var service = LoadBalancer("broken");
        service.Spec.Ports = [new V1ServicePort { Name = "http", Port = 0 }, new V1ServicePort { Port = 443, Protocol = "QUIC" }];

        var (code, status) = await FailureOf(() => Client.CoreV1.CreateNamespacedServiceAsync(service, "default"));

        Assert.That(code, Is.EqualTo(422));
        Assert.That(status["details"]!["causes"]!.AsArray().Select(c => c!["field"]!.GetValue<string>()),
            Is.EqualTo(new[] { "spec.ports[0].port", "spec.ports[1].protocol", "spec.ports[1].name" }));
        Assert.That(status["message"]!.GetValue<string>(), Does.StartWith("Service \"broken\" is invalid: ["));
    }

    [Test]
    public async Task The_load_balancer_class_of_a_service_may_not_change()
    {
        await Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("classy"), "default");

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedServiceAsync(
            new V1Patch("""{"spec":{"loadBalancerClass":"other"}}""", V1Patch.PatchType.MergePatch), "classy", "default"));

        Assert.That(code, Is.EqualTo(422));
        Assert.That(status["details"]!["causes"]![0]!["field"]!.GetValue<string>(), Is.EqualTo("spec.loadBalancerClass"));
    }
}
