using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Tests.Observability;

/// <summary>The verdict and text of a probe without HTTP: what /readyz answers and what operator tests assert through.</summary>
public sealed class HealthReportTests
{
    [Test]
    public void A_passing_probe_is_one_line_unless_asked_for_every_check()
    {
        var checks = new HealthChecks();
        checks.Add("dns-bound", Probe.Readiness, () => CheckResult.Ok);

        var report = checks.Report(Probe.Readiness);

        Assert.That(report.Healthy, Is.True);
        Assert.That(report.Text("readyz", verbose: false), Is.EqualTo("readyz check passed\n"));
        Assert.That(report.Text("readyz", verbose: true), Is.EqualTo("[+]process ok\n[+]dns-bound ok\nreadyz check passed\n"));
    }

    [Test]
    public void A_note_on_a_passing_check_is_shown_without_verbose_and_does_not_fail_the_probe()
    {
        var checks = new HealthChecks();
        checks.Add("config-source", Probe.Readiness, () => new CheckResult(true, "the defaults in force (no MiniLbConfig 'default')"));

        var report = checks.Report(Probe.Readiness);

        Assert.That(report.Healthy, Is.True);
        Assert.That(report.Text("readyz", verbose: false),
            Is.EqualTo("[+]process ok\n[+]config-source ok, but: the defaults in force (no MiniLbConfig 'default')\nreadyz check passed\n"));
    }

    [Test]
    public void A_failing_liveness_check_fails_readiness_too_and_says_why()
    {
        var checks = new HealthChecks();
        checks.Add("dns-bound", Probe.Readiness, () => CheckResult.Ok);
        checks.Add("informers", Probe.Liveness, () => CheckResult.Failed("the operator stopped"));

        var report = checks.Report(Probe.Readiness);

        Assert.That(report.Healthy, Is.False);
        Assert.That(report.Text("readyz", verbose: false),
            Is.EqualTo("[+]process ok\n[-]informers failed: the operator stopped\n[+]dns-bound ok\nreadyz check failed\n"));
        Assert.That(checks.Report(Probe.Liveness).Outcomes.Select(o => o.Name), Is.EqualTo(new[] { "informers" }));
    }
}
