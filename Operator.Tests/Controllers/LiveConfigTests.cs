using Microsoft.Extensions.Logging;
using MiniLb.Operator.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Controllers;

public sealed class LiveConfigTests
{
    [TestCase("localhost:53", "spec.listen")]
    [TestCase("127.0.0.1:99999", "spec.listen")]
    public void A_listen_address_that_cannot_be_parsed_names_the_field(string listen, string field)
    {
        var ok = LiveConfig.TryRead(new MiniLbConfigSpec { Listen = listen }, out _, out var problem);

        Assert.That(ok, Is.False);
        Assert.That(problem!.Field, Is.EqualTo(field));
        Assert.That(problem.ToString(), Does.StartWith(field + ": ").And.Contain(listen));
    }

    [Test]
    public void A_TTL_outside_the_schema_range_names_the_field()
    {
        Assert.That(LiveConfig.TryRead(new MiniLbConfigSpec { Ttl = 0, Listen = "127.0.0.1:0" }, out _, out var problem), Is.False);
        Assert.That(problem!.ToString(), Does.StartWith("spec.ttl"));
    }

    [TestCase("under_score.lan", "spec.domain: 'under_score.lan' must be a DNS subdomain")]
    [TestCase("-lan", "spec.domain: '-lan' must be a DNS subdomain")]
    [TestCase(".", "spec.domain: must not be empty")]
    public void A_domain_the_schema_would_refuse_is_refused_here_too(string domain, string problem)
    {
        Assert.That(LiveConfig.TryRead(new MiniLbConfigSpec { Domain = domain, Listen = "127.0.0.1:0" }, out _, out var found), Is.False);
        Assert.That(found!.ToString(), Does.StartWith(problem));
    }

    [Test]
    public void A_load_balancer_class_longer_than_the_schema_allows_is_refused()
    {
        Assert.That(LiveConfig.TryRead(new MiniLbConfigSpec { LoadBalancerClass = new string('a', 254), Listen = "127.0.0.1:0" }, out _, out var problem), Is.False);
        Assert.That(problem!.ToString(), Does.StartWith("spec.loadBalancerClass:"));
    }

    [Test]
    public void A_blank_load_balancer_class_is_refused()
    {
        Assert.That(LiveConfig.TryRead(new MiniLbConfigSpec { LoadBalancerClass = "  ", Listen = "127.0.0.1:0" }, out _, out var problem), Is.False);
        Assert.That(problem, Is.EqualTo(new SpecProblem("spec.loadBalancerClass", "'  ' must not be blank")));
    }

    [Test]
    public async Task Without_a_MiniLbConfig_the_flags_are_in_force_and_a_MiniLbConfig_then_overrides_them()
    {
        var zones = new ZoneHolder(Zone.Empty(new ZoneSettings()));
        var flags = new[] { new GivenFlag("--ttl", "30", "spec.ttl"), new GivenFlag("--domain", "lan", "spec.domain") };
        await using var live = new LiveConfig("default", zones, NullLoggerFactory.Instance,
            new MiniLbConfigSpec { Ttl = 30, Domain = "lan", Listen = "127.0.0.1:0" }, flags: flags);

        live.Apply(null);
        Assert.That(live.Current!.Zone.Ttl, Is.EqualTo(30));
        Assert.That(live.DescribeSource(), Is.EqualTo("the flags --ttl 30, --domain lan in force (no MiniLbConfig 'default')"));

        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 1 }, Spec = new MiniLbConfigSpec { Listen = "127.0.0.1:0", Domain = "lan" } });
        Assert.That(live.Current!.Zone.Ttl, Is.EqualTo(MiniLbConfigSpec.DefaultTtl), "the MiniLbConfig wins as a whole: its ttl, not the flag's");
        Assert.That(live.DescribeSource(), Is.EqualTo(
            "MiniLbConfig 'default' generation 1 in force; it overrides these flags of `minilb run`: --ttl 30 (spec.ttl is 5)"), "--domain agrees with it");

        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 2 }, Spec = new MiniLbConfigSpec { Listen = "127.0.0.1:0", Domain = "lan", Ttl = 30 } });
        Assert.That(live.DescribeSource(), Is.EqualTo("MiniLbConfig 'default' generation 2 in force; the flags of `minilb run` (--ttl, --domain) agree with it"));
    }

    [Test]
    public async Task Two_threads_moving_DNS_between_two_addresses_never_find_the_replaced_server_still_bound()
    {
        // The replaced server is stopped outside LiveConfig's lock; the next move must still wait until it has closed.
        var addresses = new[] { $"127.0.0.1:{OperatorFixture.FreePort()}", $"127.0.0.1:{OperatorFixture.FreePort()}" };
        var logs = new CapturingLogger();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        var zones = new ZoneHolder(Zone.Empty(new ZoneSettings()));
        await using var live = new LiveConfig("default", zones, loggers, new MiniLbConfigSpec { Listen = addresses[0] });
        live.Apply(null);
        long generation = 0;

        void Move()
        {
            for (var i = 0; i < 20; i++)
            {
                var next = Interlocked.Increment(ref generation);
                live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = next }, Spec = new MiniLbConfigSpec { Listen = addresses[next % 2] } });
            }
        }
        await Task.WhenAll(Task.Run(Move), Task.Run(Move));

        Assert.That(logs.All.Where(l => l.Contains("not applied")), Is.Empty);
        Assert.That(live.Problem, Is.Null);
        Assert.That(live.Host!.Address.Text, Is.EqualTo(live.Current!.Listen.Text));
    }

    [Test]
    public void A_specific_listen_address_is_the_name_server_glue()
    {
        Assert.That(LiveConfig.TryRead(new MiniLbConfigSpec { Domain = "Lan.Example.", Listen = "192.0.2.53:53" }, out var read, out _), Is.True);
        var (settings, listen) = (read!.Zone, read.Listen);

        Assert.That(settings.Domain, Is.EqualTo("lan.example"));
        Assert.That(settings.NameServerAddresses.Select(a => a.ToString()), Is.EqualTo(new[] { "192.0.2.53" }));
        Assert.That(listen.Text, Is.EqualTo("192.0.2.53:53"));
    }

    [Test]
    public async Task A_spec_that_cannot_be_read_keeps_the_running_configuration()
    {
        var zones = new ZoneHolder(Zone.Empty(new ZoneSettings()));
        await using var live = new LiveConfig("default", zones, NullLoggerFactory.Instance, new MiniLbConfigSpec { Listen = "127.0.0.1:0" });
        live.Apply(null);
        var running = live.Current;

        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 2 }, Spec = new MiniLbConfigSpec { Listen = "nowhere", Domain = "new" } });

        Assert.That(live.Current, Is.SameAs(running));
        Assert.That(live.Problem, Is.EqualTo(new ConfigProblem("InvalidSpec", live.Problem!.Message, 2)));
        Assert.That(live.Host, Is.Not.Null, "DNS keeps listening");
    }

    [TestCase(0, 1000, 2, "spec.nodeLiveness.port: 0 must be between 1 and 65535")]
    [TestCase(10250, 50, 2, "spec.nodeLiveness.intervalMilliseconds: 50 must be between 200 and 60000 milliseconds")]
    [TestCase(10250, 1000, 11, "spec.nodeLiveness.failures: 11 must be between 1 and 10")]
    public async Task Node_liveness_outside_the_schema_is_refused_by_field_and_the_running_liveness_stays(int port, int interval, int failures, string message)
    {
        var zones = new ZoneHolder(Zone.Empty(new ZoneSettings()));
        await using var live = new LiveConfig("default", zones, NullLoggerFactory.Instance);
        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 1 },
            Spec = new MiniLbConfigSpec { Listen = "127.0.0.1:0", NodeLiveness = new() { Failures = 3 } } });

        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 2 },
            Spec = new MiniLbConfigSpec { Listen = "127.0.0.1:0", NodeLiveness = new() { Port = port, IntervalMilliseconds = interval, Failures = failures } } });

        Assert.That(live.Problem, Is.EqualTo(new ConfigProblem("InvalidSpec", message, 2)));
        Assert.That((live.Current!.Generation, live.Current.Liveness.Failures), Is.EqualTo((1L, 3)), "generation 1, with its liveness, keeps running");
    }

    [Test]
    public async Task A_first_MiniLbConfig_whose_port_is_taken_serves_nothing_elsewhere_until_the_port_is_free()
    {
        // A port this test holds for UDP and TCP (the TCP side too, so no other program's connection has it afterwards).
        var (taken, port) = TakePort();
        var zones = new ZoneHolder(Zone.Empty(new ZoneSettings()));
        await using var live = new LiveConfig("default", zones, NullLoggerFactory.Instance,
            new MiniLbConfigSpec { Ttl = 30, Listen = "127.0.0.1:0" }, flags: [new GivenFlag("--ttl", "30", "spec.ttl")]);

        // The MiniLbConfig is the first thing seen at start (it existed before minilb), and its spec cannot work: it
        // still wins over the flags, so DNS does not come up on the flags' address, which the MiniLbConfig replaced.
        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 1 }, Spec = new MiniLbConfigSpec { Listen = $"127.0.0.1:{port}" } });

        Assert.That((live.Host, live.Current), Is.EqualTo(((DnsHost?)null, (AppliedConfig?)null)));
        Assert.That(live.Problem?.Reason, Is.EqualTo("ListenFailed"));
        Assert.That(live.DescribeSource(), Does.StartWith("no configuration in force yet: cannot listen on 127.0.0.1:"));

        taken.ForEach(s => s.Dispose());
        live.Apply(new MiniLbConfig { Metadata = new() { Name = "default", Generation = 1 }, Spec = new MiniLbConfigSpec { Listen = $"127.0.0.1:{port}" } });
        Assert.That((live.Current!.Source, live.Problem), Is.EqualTo(("default", (ConfigProblem?)null)), "once the port is free the MiniLbConfig applies");
        Assert.That(live.Host!.EndPoints[0].Port, Is.EqualTo(port));
    }

    private static (List<System.Net.Sockets.Socket> Sockets, int Port) TakePort()
    {
        while (true)
        {
            var udp = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            udp.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            var port = ((System.Net.IPEndPoint)udp.LocalEndPoint!).Port;
            var tcp = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try
            {
                tcp.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
                tcp.Listen();
                return ([udp, tcp], port);
            }
            catch (System.Net.Sockets.SocketException)
            {
                udp.Dispose();
                tcp.Dispose();
            }
        }
    }
}
