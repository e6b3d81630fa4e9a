using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

public class SkipReportTests
{
    [Test]
    public void A_skip_is_reported_once_and_again_only_when_it_changes()
    {
        var report = new SkipReport();
        report.Note("shop/web-1", "bad address 'x'");
        report.Note("shop/web-1", "bad address 'x'");
        Assert.That(report.Take(), Is.EqualTo(new[] { "bad address 'x'" }));

        report.Note("shop/web-1", "bad address 'x'");
        Assert.That(report.Take(), Is.Empty, "unchanged");

        report.Note("shop/web-1", "bad address 'y'");
        Assert.That(report.Take(), Is.EqualTo(new[] { "bad address 'y'" }));
    }

    [Test]
    public void A_fixed_or_deleted_object_is_reported_again_when_it_goes_bad_again()
    {
        var report = new SkipReport();
        report.Note("a", "odd");
        report.Note("b", "odd");
        report.Take();

        report.Note("a", null);
        report.Forget("b");
        report.Note("a", "odd");
        report.Note("b", "odd");

        Assert.That(report.Take(), Is.EqualTo(new[] { "odd", "odd" }));
    }
}
