using MiniLb.Operator.Tests.Chart;

namespace MiniLb.Operator.Tests.Forwarding;

/// <summary>The chart's <c>config.forwarding</c>: off by default, rendered into the MiniLbConfig when upstreams are set.</summary>
public class ChartForwardingTests
{
    [Test]
    public async Task Forwarding_is_off_unless_upstreams_are_set()
    {
        var spec = (await HelmChart.TemplateAsync()).Single("MiniLbConfig")["spec"]!;

        Assert.That(spec["forwarding"], Is.Null);
    }

    [Test]
    public async Task Upstreams_and_allowFrom_go_into_spec_forwarding()
    {
        var spec = (await HelmChart.TemplateAsync("config.forwarding.upstreams={192.168.1.1,[fd00::1]:53}", "config.forwarding.allowFrom={192.168.1.0/24}"))
            .Single("MiniLbConfig")["spec"]!;

        Assert.That(spec["forwarding"]!["upstreams"]!.AsArray().Select(u => (string?)u), Is.EqualTo(new[] { "192.168.1.1", "[fd00::1]:53" }));
        Assert.That(spec["forwarding"]!["allowFrom"]!.AsArray().Select(u => (string?)u), Is.EqualTo(new[] { "192.168.1.0/24" }));
    }
}
