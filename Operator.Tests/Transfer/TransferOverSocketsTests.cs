using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>Transfers through a real DNS host on loopback: TCP only, allowed clients only, and the connection stays usable.</summary>
public class TransferOverSocketsTests
{
    private static readonly ZoneHolder Zones = new(ZoneTransferTests.Model(webAddresses: 9000).Publish());

    private static DnsHost Start(params string[] allowFrom) =>
        DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), Zones, options: new DnsHostOptions { Transfer = ZoneTransferTests.Allow(allowFrom) });

    [Test]
    public async Task An_allowed_client_gets_the_zone_over_TCP_and_can_ask_again_on_the_same_connection()
    {
        await using var host = Start("127.0.0.0/8");
        using var socket = await TransferClient.ConnectAsync(host);

        var transfer = await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Axfr));
        var again = await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Soa));

        var records = transfer.SelectMany(m => m.AnswerRecords).ToList();
        Assert.That(transfer, Has.Count.GreaterThan(1), "9,000 addresses take several messages");
        Assert.That(transfer.All(m => m.IsAuthoritiveAnswer && m.ReturnCode == ReturnCode.NoError), Is.True);
        Assert.That(records.Count, Is.EqualTo(ZoneTransfer.Records(Zones.Current).Count));
        Assert.That(again.Single().AnswerRecords.Single(), Is.TypeOf<SoaRecord>(), "the connection still answers queries");
    }

    [Test]
    public async Task A_client_outside_the_allow_list_is_refused_over_TCP()
    {
        await using var host = Start("192.0.2.0/24");
        using var socket = await TransferClient.ConnectAsync(host);

        var reply = await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Axfr));

        Assert.That(reply.Single().ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That(reply.Single().AnswerRecords, Is.Empty);
    }

    [Test]
    public async Task AXFR_over_UDP_is_refused_and_IXFR_over_UDP_gets_the_SOA_alone()
    {
        await using var host = Start("127.0.0.0/8");

        var axfr = await TransferClient.OverUdpAsync(host, ZoneTransferTests.Query(RecordType.Axfr));
        var behind = await TransferClient.OverUdpAsync(host, ZoneTransferTests.Query(RecordType.Ixfr, clientSerial: 1));
        var current = await TransferClient.OverUdpAsync(host, ZoneTransferTests.Query(RecordType.Ixfr, clientSerial: Zones.Current.Serial));

        Assert.That(axfr?.ReturnCode, Is.EqualTo(ReturnCode.Refused), "AXFR is TCP only (RFC 5936 §4.2)");
        Assert.That(behind?.AnswerRecords.Single().ToString(), Is.EqualTo(ZoneTransfer.Soa(Zones.Current).ToString()), "behind: the SOA tells it to retry over TCP (RFC 1995 §2)");
        Assert.That(current?.AnswerRecords.Single().ToString(), Is.EqualTo(ZoneTransfer.Soa(Zones.Current).ToString()));
    }

    [Test]
    public async Task Without_transfer_settings_AXFR_and_IXFR_stay_refused()
    {
        await using var host = DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), Zones);
        using var socket = await TransferClient.ConnectAsync(host);

        Assert.That((await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Axfr))).Single().ReturnCode, Is.EqualTo(ReturnCode.Refused));
        Assert.That((await TransferClient.OverUdpAsync(host, ZoneTransferTests.Query(RecordType.Ixfr, clientSerial: 1)))?.ReturnCode, Is.EqualTo(ReturnCode.Refused));
    }

    [Test]
    public async Task Allowing_a_client_applies_to_the_next_transfer_without_a_restart()
    {
        await using var host = Start("192.0.2.0/24");
        using var socket = await TransferClient.ConnectAsync(host);
        Assert.That((await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Axfr))).Single().ReturnCode, Is.EqualTo(ReturnCode.Refused));

        host.Transfers.Apply(ZoneTransferTests.Allow("127.0.0.1/32"));

        Assert.That((await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Axfr)))[0].ReturnCode, Is.EqualTo(ReturnCode.NoError));
    }

    [Test]
    public async Task Dig_as_a_user_runs_it()
    {
        await using var host = Start("127.0.0.0/8");
        var dig = new ProcessStartInfo("dig", ["@127.0.0.1", "-p", host.EndPoints[0].Port.ToString(), "minilb", "AXFR"])
        {
            RedirectStandardOutput = true, UseShellExecute = false,
        };
        using var process = Process.Start(dig)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        TestContext.Out.WriteLine(output.Split('\n').TakeLast(6).Aggregate((a, b) => a + "\n" + b));
        Assert.That(output, Does.Contain($"XFR size: {ZoneTransfer.Records(Zones.Current).Count} records"));
    }
}
