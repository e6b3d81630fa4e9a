using MiniLb.Operator.Tests.Chart;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>The chart's <c>config.transfer</c> becomes <c>spec.transfer</c>; a bad entry stops helm with the field named.</summary>
public class TransferChartTests
{
    [Test]
    public async Task Transfer_values_render_into_the_MiniLbConfig()
    {
        var rendered = await HelmChart.TemplateAsync("config.transfer.allowFrom={192.168.1.0/24}", "config.transfer.notify={192.168.1.1:53}");

        var transfer = rendered.Single("MiniLbConfig")["spec"]!["transfer"]!;
        Assert.That(transfer["allowFrom"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "192.168.1.0/24" }));
        Assert.That(transfer["notify"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "192.168.1.1:53" }));
    }

    [Test]
    public async Task Without_transfer_values_the_MiniLbConfig_has_no_transfer()
    {
        var spec = (await HelmChart.TemplateAsync()).Single("MiniLbConfig")["spec"]!;

        Assert.That(spec["transfer"], Is.Null, "transfers stay refused");
    }

    [Test]
    public async Task A_notify_target_without_a_port_is_refused_naming_the_field()
    {
        var result = await HelmChart.RunAsync(HelmChart.TemplateArgs("config.transfer.notify={192.168.1.1}"));

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain("/config/transfer/notify/0"));
    }
}
