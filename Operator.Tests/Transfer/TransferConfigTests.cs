using ARSoft.Tools.Net.Dns;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>spec.transfer edited live with kubectl-style patches: applied without a restart; a bad entry is reported and changes nothing.</summary>
public sealed class TransferConfigTests : OperatorFixture
{
    private static async Task<ReturnCode> AxfrAsync(MiniLb.Operator.Dns.DnsHost host)
    {
        using var socket = await TransferClient.ConnectAsync(host);
        return (await TransferClient.TransferAsync(socket, ZoneTransferTests.Query(RecordType.Axfr)))[0].ReturnCode;
    }

    [Test]
    public async Task A_bad_allowFrom_entry_is_reported_by_field_and_the_last_good_transfer_settings_keep_working()
    {
        var (minilb, _) = await ServingWebAsync();
        await EditConfigAsync("""{"transfer":{"allowFrom":["127.0.0.1/32"]}}""");
        await WaitUntilAsync(async () => await AxfrAsync(minilb.Config.Host!) == ReturnCode.NoError, "the transfer is allowed");

        await EditConfigAsync("""{"transfer":{"allowFrom":["lan"]}}""");

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready) is { Status: Condition.False, Reason: "InvalidSpec" },
            "Ready=False InvalidSpec");
        var ready = ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)!;
        Assert.That(ready.Message, Does.Contain("spec.transfer.allowFrom[0]: 'lan' is not a CIDR"));
        Assert.That(await AxfrAsync(minilb.Config.Host!), Is.EqualTo(ReturnCode.NoError), "the last good settings still transfer");

        await EditConfigAsync("""{"transfer":{"allowFrom":[]}}""");

        await WaitUntilAsync(async () => await AxfrAsync(minilb.Config.Host!) == ReturnCode.Refused, "an empty allow-list refuses transfers again, without a restart");
        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), ConditionTypes.Ready)?.Status == Condition.True, "Ready=True again");
    }
}
