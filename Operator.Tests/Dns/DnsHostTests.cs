using System.Net;
using System.Net.Sockets;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using static MiniLb.Operator.Tests.TestObjects;

namespace MiniLb.Operator.Tests.Dns;

public class DnsHostTests
{
    private static readonly ZoneHolder Zones = new(Zone());

    private static MiniLb.Operator.Resolution.Zone Zone()
    {
        var model = new ClusterModel(new ZoneSettings());
        model.Upsert(Service("default", "web"));
        model.Upsert(Slice("default", "web", "w", "IPv4", Ready("10.244.0.11")));
        return model.Publish();
    }

    private static async Task<bool> Answers(IPEndPoint endPoint)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(endPoint);
        await socket.SendAsync(RawQuery.Build("web.default.minilb"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            return await socket.ReceiveAsync(new byte[600], SocketFlags.None, timeout.Token) > 0;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            return false;
        }
    }

    private static void IgnoreWithoutIPv6Loopback()
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        }
        catch (SocketException e)
        {
            Assert.Ignore($"this machine has no IPv6 loopback ({e.SocketErrorCode})");
        }
    }

    [Test]
    public async Task A_busy_port_is_a_clear_error()
    {
        using var busy = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        busy.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)busy.LocalEndPoint!).Port;

        var error = Assert.Throws<ListenException>(() => DnsHost.Start(ListenAddress.Parse($"127.0.0.1:{port}"), Zones));

        Assert.That(error!.Message, Does.Contain($"127.0.0.1:{port}").And.Contain("UDP").And.Contain("already in use"));
        await Task.CompletedTask;
    }

    [Test]
    public void An_address_of_no_interface_is_a_clear_error()
    {
        var error = Assert.Throws<ListenException>(() => DnsHost.Start(ListenAddress.Parse("192.0.2.77:0"), Zones));

        Assert.That(error!.Message, Does.Contain("192.0.2.77").And.Contain("no network interface has this address"));
    }

    [Test]
    public async Task Port_only_listens_on_both_families_with_one_port()
    {
        IgnoreWithoutIPv6Loopback();
        await using var host = DnsHost.Start(ListenAddress.Parse(":0"), Zones);

        Assert.That(host.EndPoints.Select(e => e.AddressFamily), Is.EquivalentTo(new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 }));
        Assert.That(host.EndPoints.Select(e => e.Port).Distinct().Count(), Is.EqualTo(1));
        Assert.That(await Answers(new IPEndPoint(IPAddress.Loopback, host.EndPoints[0].Port)), Is.True, "IPv4");
        Assert.That(await Answers(new IPEndPoint(IPAddress.IPv6Loopback, host.EndPoints[0].Port)), Is.True, "IPv6");
    }

    [Test]
    public async Task IPv6_loopback_answers()
    {
        IgnoreWithoutIPv6Loopback();
        await using var host = DnsHost.Start(ListenAddress.Parse("[::1]:0"), Zones);

        Assert.That(await Answers(host.EndPoints[0]), Is.True);
    }

    [Test]
    public async Task A_new_address_can_be_bound_before_the_old_one_is_closed()
    {
        var old = DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), Zones);
        await using var next = DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), Zones);
        Assert.That(await Answers(old.EndPoints[0]), Is.True);
        Assert.That(await Answers(next.EndPoints[0]), Is.True);

        await old.StopAsync();

        Assert.That(await Answers(next.EndPoints[0]), Is.True);
        Assert.That(await Answers(old.EndPoints[0]), Is.False, "the old address is closed");
    }

    [Test]
    public async Task A_stopped_host_frees_its_port()
    {
        var host = DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), Zones);
        var endPoint = host.EndPoints[0];
        await host.StopAsync();

        await using var again = DnsHost.Start(ListenAddress.Parse($"127.0.0.1:{endPoint.Port}"), Zones);
        Assert.That(await Answers(endPoint), Is.True);
    }
}
