using System.Text.Json.Nodes;

namespace MiniLb.Operator.Tests.Chart;

[TestFixture]
[Parallelizable(ParallelScope.All)]
public class ChartTests
{
    private static readonly string[] Modes = ["mode=deployment", "mode=daemonset"];

    [TestCase("mode=deployment")]
    [TestCase("mode=daemonset")]
    [TestCase("dnsService.type=LoadBalancer", "dnsService.loadBalancerIP=192.0.2.53")]
    [TestCase("monitoring.serviceMonitor.enabled=true")]
    public async Task Lint_IsClean(params string[] sets)
    {
        var result = await HelmChart.RunAsync(["lint", "--strict", HelmChart.ChartDirectory, .. sets.SelectMany(s => new[] { "--set", s })]);

        Assert.That(result.ExitCode, Is.Zero, result.Stdout + result.Stderr);
        Assert.That(result.Stdout, Does.Not.Contain("[WARNING]").And.Not.Contain("[ERROR]"));
    }

    [Test]
    public async Task Default_IsTwoSpreadReplicasWithLeaderElection()
    {
        var rendered = await HelmChart.TemplateAsync();

        var deployment = rendered.Single("Deployment");
        Assert.That((string?)deployment["spec"]!["replicas"], Is.EqualTo("2"));
        var container = rendered.Container;
        Assert.Multiple(() =>
        {
            Assert.That((string?)container["args"]![0], Is.EqualTo("run"));
            Assert.That(ArgAfter(container, "--config"), Is.EqualTo("default"));
            Assert.That(ArgAfter(container, "--namespace"), Is.EqualTo(HelmChart.Namespace));
            Assert.That(ArgAfter(container, "--leader-election"), Is.EqualTo("true"));
            Assert.That(EnvFieldRef(container, "POD_NAME"), Is.EqualTo("metadata.name"));
            Assert.That(EnvFieldRef(container, "POD_NAMESPACE"), Is.EqualTo("metadata.namespace"));
        });
        var antiAffinity = deployment["spec"]!["template"]!["spec"]!["affinity"]?["podAntiAffinity"];
        Assert.That(antiAffinity, Is.Not.Null, "replicas must be spread over nodes");
        Assert.That(antiAffinity!.ToJsonString(), Does.Contain("kubernetes.io/hostname"));
    }

    [TestCaseSource(nameof(Modes))]
    public async Task Pod_MeetsTheRestrictedPodSecurityProfile(string mode)
    {
        var rendered = await HelmChart.TemplateAsync(mode);

        var pod = rendered.Workload["spec"]!["template"]!["spec"]!;
        var container = rendered.Container;
        var security = container["securityContext"]!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)pod["securityContext"]!["runAsNonRoot"], Is.EqualTo("true"));
            Assert.That(int.Parse((string)pod["securityContext"]!["runAsUser"]!), Is.GreaterThan(0));
            Assert.That((string?)pod["securityContext"]!["seccompProfile"]!["type"], Is.EqualTo("RuntimeDefault"));
            Assert.That(pod["hostNetwork"], Is.Null, "hostNetwork is not allowed by the restricted profile");
            Assert.That((string?)security["runAsNonRoot"], Is.EqualTo("true"));
            Assert.That((string?)security["allowPrivilegeEscalation"], Is.EqualTo("false"));
            Assert.That((string?)security["readOnlyRootFilesystem"], Is.EqualTo("true"));
            Assert.That((string?)security["seccompProfile"]!["type"], Is.EqualTo("RuntimeDefault"));
            Assert.That(Strings(security["capabilities"]!["drop"]), Is.EqualTo(new[] { "ALL" }));
            // The restricted profile allows adding NET_BIND_SERVICE and nothing else.
            Assert.That(Strings(security["capabilities"]!["add"]), Is.SubsetOf(new[] { "NET_BIND_SERVICE" }));
            Assert.That(container["resources"]!["requests"]!["cpu"], Is.Not.Null);
            Assert.That(container["resources"]!["requests"]!["memory"], Is.Not.Null);
            Assert.That(container["resources"]!["limits"]!["memory"], Is.Not.Null, "a memory limit bounds the .NET heap");
        });
    }

    [Test]
    public async Task DeploymentMode_AddsNoCapabilityAndNoHostPort()
    {
        var container = (await HelmChart.TemplateAsync()).Container;

        Assert.That(container["securityContext"]!["capabilities"]!["add"], Is.Null);
        Assert.That(container["ports"]!.AsArray().Select(p => p!["hostPort"]), Is.All.Null);
    }

    [Test]
    public async Task DaemonSetMode_BindsHostPort53ForUdpAndTcp_WithNetBindService()
    {
        var rendered = await HelmChart.TemplateAsync("mode=daemonset");

        Assert.That(rendered.OfKind("Deployment"), Is.Empty);
        rendered.Single("DaemonSet");
        var container = rendered.Container;
        var hostPorts = container["ports"]!.AsArray()
            .Where(p => p!["hostPort"] is not null)
            .Select(p => $"{(string?)p!["protocol"]}/{(string?)p["hostPort"]}");
        Assert.That(hostPorts, Is.EquivalentTo(new[] { "UDP/53", "TCP/53" }));
        Assert.That(Strings(container["securityContext"]!["capabilities"]!["add"]), Is.EqualTo(new[] { "NET_BIND_SERVICE" }));
    }

    [TestCase(":5353", 5353)]
    [TestCase("0.0.0.0:10053", 10053)]
    [TestCase("[::]:53", 53)]
    public async Task DnsService_ForwardsUdpAndTcp53_ToTheMiniLbConfigListenPort(string listen, int port)
    {
        var rendered = await HelmChart.TemplateAsync($"config.listen={listen}");

        var config = rendered.Single("MiniLbConfig");
        Assert.That((string?)config["spec"]!["listen"], Is.EqualTo(listen));
        var service = rendered.OfKind("Service").Single(s => ((string)s["metadata"]!["name"]!).EndsWith("-dns", StringComparison.Ordinal));
        var servicePorts = service["spec"]!["ports"]!.AsArray()
            .Select(p => $"{(string?)p!["protocol"]} {(string?)p["port"]}->{(string?)p["targetPort"]}");
        Assert.That(servicePorts, Is.EquivalentTo(new[] { $"UDP 53->{port}", $"TCP 53->{port}" }));
        var containerPorts = rendered.Container["ports"]!.AsArray()
            .Where(p => ((string)p!["name"]!).StartsWith("dns", StringComparison.Ordinal))
            .Select(p => $"{(string?)p!["protocol"]} {(string?)p["containerPort"]}");
        Assert.That(containerPorts, Is.EquivalentTo(new[] { $"UDP {port}", $"TCP {port}" }));
    }

    [Test]
    public async Task MiniLbConfig_DefaultsMatchTheCrdDefaults_ExceptAnUnprivilegedListenPort()
    {
        var spec = (await HelmChart.TemplateAsync()).Single("MiniLbConfig")["spec"]!;

        Assert.Multiple(() =>
        {
            Assert.That((string?)spec["domain"], Is.EqualTo("minilb"));
            Assert.That((string?)spec["ttl"], Is.EqualTo("5"));
            Assert.That((string?)spec["loadBalancerClass"], Is.EqualTo("minilb"));
            // The CRD defaults to :53; in a pod without NET_BIND_SERVICE the chart listens above 1024.
            Assert.That((string?)spec["listen"], Is.EqualTo(":5353"));
        });
    }

    [Test]
    public async Task MiniLbConfig_IsRenderedFromValues()
    {
        var rendered = await HelmChart.TemplateAsync("config.domain=k8s.home.arpa", "config.ttl=30", "config.loadBalancerClass=example.com/dns");

        var config = rendered.Single("MiniLbConfig");
        Assert.Multiple(() =>
        {
            Assert.That((string?)config["apiVersion"], Is.EqualTo("minilb.io/v1alpha1"));
            Assert.That((string?)config["metadata"]!["name"], Is.EqualTo("default"));
            Assert.That(config["metadata"]!["namespace"], Is.Null, "MiniLbConfig is cluster-scoped");
            Assert.That((string?)config["spec"]!["domain"], Is.EqualTo("k8s.home.arpa"));
            Assert.That((string?)config["spec"]!["ttl"], Is.EqualTo("30"));
            Assert.That((string?)config["spec"]!["loadBalancerClass"], Is.EqualTo("example.com/dns"));
        });
    }

    [Test]
    public async Task DnsService_IsNodePortByDefault_WithAFixedPort()
    {
        var service = DnsService(await HelmChart.TemplateAsync());

        Assert.That((string?)service["spec"]!["type"], Is.EqualTo("NodePort"));
        Assert.That(service["spec"]!["ports"]!.AsArray().Select(p => (string?)p!["nodePort"]).Distinct().Single(), Is.Not.Null);
    }

    [Test]
    public async Task DnsService_CanBeALoadBalancerWithAFixedIp()
    {
        var service = DnsService(await HelmChart.TemplateAsync(
            "dnsService.type=LoadBalancer", "dnsService.loadBalancerIP=192.0.2.53", "dnsService.loadBalancerClass=metallb"));

        Assert.Multiple(() =>
        {
            Assert.That((string?)service["spec"]!["type"], Is.EqualTo("LoadBalancer"));
            Assert.That((string?)service["spec"]!["loadBalancerIP"], Is.EqualTo("192.0.2.53"));
            Assert.That((string?)service["spec"]!["loadBalancerClass"], Is.EqualTo("metallb"));
        });
    }

    [Test]
    public async Task DnsService_ClusterIpHasNoNodePort()
    {
        var service = DnsService(await HelmChart.TemplateAsync("dnsService.type=ClusterIP"));

        Assert.That((string?)service["spec"]!["type"], Is.EqualTo("ClusterIP"));
        Assert.That(service["spec"]!["ports"]!.AsArray().Select(p => p!["nodePort"]), Is.All.Null);
    }

    [Test]
    public async Task Probes_UseHealthzAndReadyz_OnTheHealthListenPort()
    {
        var rendered = await HelmChart.TemplateAsync("monitoring.port=9090");

        var container = rendered.Container;
        var metricsPort = container["ports"]!.AsArray().Single(p => (string?)p!["name"] == "metrics")!;
        Assert.Multiple(() =>
        {
            Assert.That(ArgAfter(container, "--health-listen"), Is.EqualTo(":9090"));
            Assert.That((string?)metricsPort["containerPort"], Is.EqualTo("9090"));
            Assert.That((string?)container["livenessProbe"]!["httpGet"]!["path"], Is.EqualTo("/healthz"));
            Assert.That((string?)container["readinessProbe"]!["httpGet"]!["path"], Is.EqualTo("/readyz"));
            Assert.That((string?)container["livenessProbe"]!["httpGet"]!["port"], Is.EqualTo("metrics"));
            Assert.That((string?)container["readinessProbe"]!["httpGet"]!["port"], Is.EqualTo("metrics"));
        });
    }

    [TestCase(null, "5", 15)]
    [TestCase("lameDuckSeconds=20", "20", 30)]
    [TestCase("lameDuckSeconds=0", "0", 10)]
    public async Task Shutdown_GracePeriodCoversTheLameDuckPeriod(string? set, string lameDuck, int grace)
    {
        var rendered = await HelmChart.TemplateAsync(set is null ? [] : [set]);

        Assert.Multiple(() =>
        {
            Assert.That(ArgAfter(rendered.Container, "--lame-duck"), Is.EqualTo(lameDuck));
            Assert.That((string?)rendered.Workload["spec"]!["template"]!["spec"]!["terminationGracePeriodSeconds"], Is.EqualTo(grace.ToString()),
                "SIGKILL must not come before the lame-duck period and the stop are over");
        });
    }

    [Test]
    public async Task Metrics_HaveAServiceAndAnOptionalServiceMonitor()
    {
        var plain = await HelmChart.TemplateAsync();
        var monitored = await HelmChart.TemplateAsync("monitoring.serviceMonitor.enabled=true");

        Assert.That(plain.OfKind("ServiceMonitor"), Is.Empty);
        var metricsService = plain.OfKind("Service").Single(s => ((string)s["metadata"]!["name"]!).EndsWith("-metrics", StringComparison.Ordinal));
        Assert.That((string?)metricsService["spec"]!["ports"]![0]!["name"], Is.EqualTo("metrics"));
        var monitor = monitored.Single("ServiceMonitor");
        Assert.That((string?)monitor["spec"]!["endpoints"]![0]!["port"], Is.EqualTo("metrics"));
        Assert.That((string?)monitor["spec"]!["endpoints"]![0]!["path"], Is.EqualTo("/metrics"));
    }

    [TestCaseSource(nameof(Modes))]
    public async Task PodDisruptionBudget_SelectsTheMiniLbPods(string mode)
    {
        var rendered = await HelmChart.TemplateAsync(mode);

        var budget = rendered.Single("PodDisruptionBudget");
        var podLabels = rendered.Workload["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        foreach (var (key, value) in budget["spec"]!["selector"]!["matchLabels"]!.AsObject())
            Assert.That((string?)podLabels[key], Is.EqualTo((string?)value), $"PDB selector label {key}");
    }

    [Test]
    public async Task Rbac_GrantsReadsAndOnlyTheStatusLeaseAndEventWrites()
    {
        var rendered = await HelmChart.TemplateAsync();

        // What the operator writes: everything else it may only read.
        var allowedWrites = new HashSet<string>
        {
            "/services/status:patch", "minilb.io/minilbconfigs/status:patch",
            "/events:create", "/events:patch", "events.k8s.io/events:create", "events.k8s.io/events:patch",
            "coordination.k8s.io/leases:create", "coordination.k8s.io/leases:patch",
        };
        var readVerbs = new[] { "get", "list", "watch" };
        var grants = Grants(rendered.Single("ClusterRole")).Concat(Grants(rendered.Single("Role"))).ToList();

        Assert.That(grants, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var grant in grants)
            {
                var (resource, verb) = (grant[..grant.LastIndexOf(':')], grant[(grant.LastIndexOf(':') + 1)..]);
                Assert.That(resource, Does.Not.Contain("*").And.Not.EndWith("/secrets").And.Not.EndWith("/configmaps"), grant);
                Assert.That(verb, Is.Not.EqualTo("*"), grant);
                if (!readVerbs.Contains(verb))
                    Assert.That(allowedWrites, Does.Contain(grant), $"unexpected write permission {grant}");
            }
        });
        // What the operator must be able to do.
        var needed = new[]
        {
            "/services:watch", "/nodes:watch", "discovery.k8s.io/endpointslices:watch", "networking.k8s.io/ingresses:watch",
            "gateway.networking.k8s.io/gateways:watch", "gateway.networking.k8s.io/httproutes:watch",
            "gateway.networking.k8s.io/grpcroutes:watch", "gateway.networking.k8s.io/tlsroutes:watch",
            "minilb.io/minilbconfigs:watch", "/services/status:patch", "minilb.io/minilbconfigs/status:patch",
            "coordination.k8s.io/leases:get", "coordination.k8s.io/leases:create", "coordination.k8s.io/leases:patch",
            "/events:create",
        };
        Assert.That(grants, Is.SupersetOf(needed));
    }

    [Test]
    public async Task Rbac_LeaseRoleIsNamespacedToTheRelease()
    {
        var rendered = await HelmChart.TemplateAsync();

        var role = rendered.Single("Role");
        Assert.That((string?)role["metadata"]!["namespace"], Is.EqualTo(HelmChart.Namespace));
        Assert.That(Grants(rendered.Single("ClusterRole")), Has.None.Contains("leases"), "leases belong in the namespaced Role");
        var binding = rendered.Single("RoleBinding");
        var account = rendered.Single("ServiceAccount");
        Assert.That((string?)binding["subjects"]![0]!["name"], Is.EqualTo((string?)account["metadata"]!["name"]));
        Assert.That((string?)rendered.Workload["spec"]!["template"]!["spec"]!["serviceAccountName"], Is.EqualTo((string?)account["metadata"]!["name"]));
    }

    [Test]
    public async Task Config_IsAlsoPassedAsFlags_ThatMinilbRunAccepts()
    {
        var container = (await HelmChart.TemplateAsync("config.domain=k8s.home.arpa", "config.ttl=30", "config.listen=:10053",
            "config.loadBalancerClass=example.com/dns", "extraArgs={--kubeconfig,/etc/minilb/kubeconfig}")).Container;

        var args = Strings(container["args"]);
        Assert.Multiple(() =>
        {
            Assert.That(ArgAfter(container, "--domain"), Is.EqualTo("k8s.home.arpa"));
            Assert.That(ArgAfter(container, "--ttl"), Is.EqualTo("30"));
            Assert.That(ArgAfter(container, "--listen"), Is.EqualTo(":10053"));
            Assert.That(ArgAfter(container, "--load-balancer-class"), Is.EqualTo("example.com/dns"));
            Assert.That(args[^2..], Is.EqualTo(new[] { "--kubeconfig", "/etc/minilb/kubeconfig" }), "extraArgs come last");
        });
        // The binary's own parser: every argument the chart writes is one `minilb run` takes.
        Assert.That(MiniLb.Operator.Cli.CommandLine.Build().Parse(args).Errors.Select(e => e.Message), Is.Empty);
    }

    [Test]
    public async Task WithoutTheCrd_NoMiniLbConfigIsRendered_AndThePodsRunOnTheFlags()
    {
        var result = await HelmChart.RunAsync([.. HelmChart.TemplateArgs("config.create=false", "config.domain=lan"), "--skip-crds"]);

        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
        var rendered = Rendered.Parse(result.Stdout);
        Assert.That(rendered.OfKind("MiniLbConfig"), Is.Empty);
        Assert.That(rendered.OfKind("CustomResourceDefinition"), Is.Empty);
        Assert.That(ArgAfter(rendered.Container, "--domain"), Is.EqualTo("lan"));
    }

    [TestCase("config.ttl=0", "/config/ttl", "minimum")]
    [TestCase("config.ttl=3601", "/config/ttl", "maximum")]
    [TestCase("mode=foo", "/mode", "deployment")]
    [TestCase("dnsService.type=External", "/dnsService/type", "NodePort")]
    [TestCase("config.domain=Bad_Domain", "/config/domain", "pattern")]
    [TestCase("logging.format=xml", "/logging/format", "json")]
    [TestCase("runAsUser=0", "/runAsUser", "minimum")]
    [TestCase("lameDuckSeconds=-1", "/lameDuckSeconds", "minimum")]
    [TestCase("replicas=3", "additional properties 'replicas'", "not allowed")]
    public async Task Schema_RejectsBadValues_NamingTheField(string set, string field, string reason)
    {
        var result = await HelmChart.RunAsync(HelmChart.TemplateArgs(set));

        Assert.That(result.ExitCode, Is.Not.Zero, $"--set {set} was accepted");
        Assert.That(result.Stderr, Does.Contain(field).And.Contain(reason));
    }

    [Test]
    public async Task Schema_RejectsAListenAddressWithoutPort()
    {
        var result = await HelmChart.RunAsync([.. HelmChart.TemplateArgs(), "--set-string", "config.listen=5353"]);

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain("/config/listen"));
    }

    [TestCase("monitoring.port=5353", "config.listen (:5353) and monitoring.port (5353) use the same port")]
    [TestCase("dnsService.type=LoadBalancer,dnsService.loadBalancerClass=minilb", "dnsService.loadBalancerClass must not be minilb's own class")]
    public async Task ConflictingValues_FailWithAMessageNamingThem(string set, string message)
    {
        var result = await HelmChart.RunAsync(HelmChart.TemplateArgs(set));

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain(message));
    }

    [Test]
    public async Task Notes_SayHowToReadTheRoutesAndForwardTheZone()
    {
        var result = await HelmChart.RunAsync("install", "minilb", HelmChart.ChartDirectory, "--namespace", HelmChart.Namespace, "--dry-run=client");

        if (result.ExitCode != 0 && result.Stderr.Contains("cluster", StringComparison.OrdinalIgnoreCase))
            Assert.Ignore($"helm install --dry-run=client needs a cluster here: {result.Stderr}");
        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
        Assert.That(result.Stdout, Does.Contain("kubectl get minilbconfig default -o yaml"));
        Assert.That(result.Stdout, Does.Contain("server=/minilb/"));
    }

    [Test]
    public void Crds_AreACopyOfTheGeneratedOnes()
    {
        var generated = Path.Combine(HelmChart.RepositoryRoot, "config", "crd");
        if (!Directory.Exists(generated))
            Assert.Ignore("config/crd does not exist yet: `minilb manifests` generates it, then it is copied into charts/minilb/crds");
        var sources = Directory.GetFiles(generated, "*.yaml", SearchOption.AllDirectories)
            .Where(f => File.ReadAllText(f).Contains("kind: CustomResourceDefinition", StringComparison.Ordinal))
            .ToList();
        Assert.That(sources, Is.Not.Empty, "config/crd holds no CustomResourceDefinition");
        foreach (var source in sources)
        {
            var copy = Path.Combine(HelmChart.ChartDirectory, "crds", Path.GetFileName(source));
            Assert.That(copy, Does.Exist, $"charts/minilb/crds lacks {Path.GetFileName(source)}: copy it from config/crd");
            Assert.That(File.ReadAllText(copy), Is.EqualTo(File.ReadAllText(source)), $"charts/minilb/crds/{Path.GetFileName(source)} differs from {source}");
        }
    }

    [TestCase("ClusterRole", "role.yaml")]
    [TestCase("Role", "leader_election_role.yaml")]
    public async Task Rbac_GrantsExactlyWhatTheGeneratedRolesGrant(string kind, string generatedFile)
    {
        var generated = Path.Combine(HelmChart.RepositoryRoot, "config", "rbac", generatedFile);
        var rendered = await HelmChart.TemplateAsync();

        var expected = Grants(Rendered.Parse(await File.ReadAllTextAsync(generated)).Single(kind)).Order(StringComparer.Ordinal);
        var actual = Grants(rendered.Single(kind)).Order(StringComparer.Ordinal);

        Assert.That(actual, Is.EqualTo(expected), $"the chart's {kind} differs from config/rbac/{generatedFile} (generated by `make manifests`)");
    }

    private static JsonObject DnsService(Rendered rendered) =>
        rendered.OfKind("Service").Single(s => ((string)s["metadata"]!["name"]!).EndsWith("-dns", StringComparison.Ordinal));

    private static string? ArgAfter(JsonObject container, string flag)
    {
        var args = Strings(container["args"]);
        var i = Array.IndexOf(args, flag);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string? EnvFieldRef(JsonObject container, string name) =>
        (string?)container["env"]!.AsArray().Single(e => (string?)e!["name"] == name)!["valueFrom"]!["fieldRef"]!["fieldPath"];

    private static string[] Strings(JsonNode? array) =>
        array?.AsArray().Select(n => (string)n!).ToArray() ?? [];

    /// <summary>Each rule flattened to "group/resource:verb".</summary>
    private static IEnumerable<string> Grants(JsonObject role) =>
        from rule in role["rules"]!.AsArray()
        from apiGroup in Strings(rule!["apiGroups"])
        from resource in Strings(rule["resources"])
        from verb in Strings(rule["verbs"])
        select $"{apiGroup}/{resource}:{verb}";
}
