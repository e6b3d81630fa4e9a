using System.Text.RegularExpressions;
using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Tests.Chart;

/// <summary>
/// One version everywhere (issue 16): the repository's VERSION file is what the binary reports, what the chart installs
/// and, through the chart's appVersion, the image tag it pulls. `make image` tags and labels the image from the same file.
/// </summary>
[TestFixture]
public class VersionTests
{
    private static string Version => File.ReadAllText(Path.Combine(HelmChart.RepositoryRoot, "VERSION")).Trim();

    private static string ChartField(string field) =>
        Regex.Match(File.ReadAllText(Path.Combine(HelmChart.ChartDirectory, "Chart.yaml")), $"""^{field}:\s*"?([^"\s]+)"?\s*$""", RegexOptions.Multiline)
            .Groups[1].Value;

    [Test]
    public void VersionFile_IsSemanticVersion() =>
        Assert.That(Version, Does.Match(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"), "VERSION must hold one semantic version");

    /// <summary>`minilb --version` prints the same attribute in the binary; the container tests check it in the image.</summary>
    [Test]
    public void Binary_ReportsTheVersionFile() =>
        Assert.That(Monitoring.Version, Is.EqualTo(Version), "the assembly's informational version, minilb_build_info's version label");

    [Test]
    public void Chart_VersionAndAppVersion_AreTheVersionFile() =>
        Assert.Multiple(() =>
        {
            Assert.That(ChartField("version"), Is.EqualTo(Version), "charts/minilb/Chart.yaml version");
            Assert.That(ChartField("appVersion"), Is.EqualTo(Version), "charts/minilb/Chart.yaml appVersion");
        });

    [Test]
    public async Task Chart_PullsTheImageTaggedWithTheVersion()
    {
        var rendered = await HelmChart.TemplateAsync();

        Assert.That((string?)rendered.Container["image"], Is.EqualTo($"minilb:{Version}"));
    }
}
