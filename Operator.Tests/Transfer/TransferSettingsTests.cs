using MiniLb.Operator.Controllers;
using MiniLb.Operator.Entities;
using MiniLb.Operator.Transfer;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>spec.transfer is validated with the field named, as the rest of the spec is.</summary>
public class TransferSettingsTests
{
    [Test]
    public void A_valid_spec_reads_as_settings()
    {
        var ok = TransferSettings.TryRead(new TransferSpec { AllowFrom = ["192.168.1.1/32", "fd00::/64"], Notify = ["192.168.1.1:53", "[fd00::1]:5353"] }, out var settings, out _);

        Assert.That(ok, Is.True);
        Assert.That(settings.AllowFrom.Select(n => n.ToString()), Is.EqualTo(new[] { "192.168.1.1/32", "fd00::/64" }));
        Assert.That(settings.Notify.Select(n => n.ToString()), Is.EqualTo(new[] { "192.168.1.1:53", "[fd00::1]:5353" }));
        Assert.That(settings.Enabled, Is.True);
    }

    [TestCase(new[] { "10.0.0.0/8", "router" }, null, "spec.transfer.allowFrom[1]: 'router' is not a CIDR")]
    [TestCase(new[] { "10.0.0.1/33" }, null, "spec.transfer.allowFrom[0]: '10.0.0.1/33'")]
    [TestCase(null, new[] { "192.168.1.1" }, "spec.transfer.notify[0]: '192.168.1.1' is not 'ip:port'")]
    [TestCase(null, new[] { "192.168.1.1:0" }, "spec.transfer.notify[0]")]
    [TestCase(null, new[] { "router.lan:53" }, "spec.transfer.notify[0]: 'router.lan:53'")]
    [TestCase(null, new[] { "fd00::1" }, "spec.transfer.notify[0]")]
    public void A_bad_entry_is_named_in_the_message(string[]? allow, string[]? notify, string message)
    {
        var spec = new MiniLbConfigSpec { Transfer = new TransferSpec { AllowFrom = allow?.ToList(), Notify = notify?.ToList() } };

        var ok = LiveConfig.TryRead(spec, out _, out var problem);

        Assert.That(ok, Is.False);
        Assert.That(problem!.ToString(), Does.StartWith(message));
    }

    [Test]
    public void Too_many_entries_are_refused()
    {
        var spec = new TransferSpec { AllowFrom = [.. Enumerable.Range(0, TransferSpec.MaxEntries + 1).Select(i => $"10.0.{i}.0/24")] };

        Assert.That(TransferSettings.TryRead(spec, out _, out var problem), Is.False);
        Assert.That(problem!.ToString(), Is.EqualTo("spec.transfer.allowFrom: at most 32 entries, not 33"));
    }

    [Test]
    public async Task Flags_are_named_as_the_user_typed_them()
    {
        var run = await Cli.CliRun.RunAsync("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0",
            "--transfer-allow-from", "127.0.0.1/8", "--notify", "localhost:53");

        Assert.That(run.Error.Trim(), Is.EqualTo("minilb serve: --notify: 'localhost:53' is not 'ip:port' or '[ipv6]:port' with a port from 1 to 65535, such as 192.168.1.1:53"));
    }

    [Test]
    public void No_transfer_spec_means_transfers_refused()
    {
        Assert.That(TransferSettings.TryRead(null, out var settings, out _), Is.True);
        Assert.That(settings.Enabled, Is.False);
        Assert.That(LiveConfig.TryRead(new MiniLbConfigSpec(), out _, out _), Is.True);
    }
}
