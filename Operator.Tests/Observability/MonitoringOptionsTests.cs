using System.CommandLine;
using Microsoft.Extensions.Logging;
using MiniLb.Operator.Observability;

namespace MiniLb.Operator.Tests.Observability;

[TestFixture]
public class MonitoringOptionsTests
{
    private static (Command Command, Option<string?> Listen, Option<LogFormat> Format, Option<LogLevel> Level) Build()
    {
        var listen = MonitoringOptions.HealthListen();
        var format = MonitoringOptions.LogFormat();
        var level = MonitoringOptions.LogLevel();
        return (new RootCommand { listen, format, level }, listen, format, level);
    }

    [Test]
    public void Defaults_AreTextAtInformation_WithoutHealthEndpoint()
    {
        var (command, listen, format, level) = Build();

        var parse = command.Parse([]);

        Assert.That(parse.Errors, Is.Empty);
        Assert.That(parse.GetValue(listen), Is.Null);
        Assert.That(parse.GetValue(format), Is.EqualTo(LogFormat.Text));
        Assert.That(parse.GetValue(level), Is.EqualTo(LogLevel.Information));
    }

    [Test]
    public void ChartArguments_Parse()
    {
        var (command, listen, format, level) = Build();

        var parse = command.Parse(["--health-listen", ":8080", "--log-format", "json", "--log-level", "debug"]);

        Assert.That(parse.Errors, Is.Empty);
        Assert.That(parse.GetValue(listen), Is.EqualTo(":8080"));
        Assert.That(parse.GetValue(format), Is.EqualTo(LogFormat.Json));
        Assert.That(parse.GetValue(level), Is.EqualTo(LogLevel.Debug));
    }

    [Test]
    public void ABadHealthListenAddress_IsAParseErrorNamingTheOption()
    {
        var (command, _, _, _) = Build();

        var parse = command.Parse(["--health-listen", "localhost"]);

        Assert.That(parse.Errors.Select(e => e.Message), Has.One.Contains("--health-listen").And.Contains("'localhost'"));
    }

    [Test]
    public void AnUnknownLogFormat_IsAParseError()
    {
        var (command, _, _, _) = Build();

        var parse = command.Parse(["--log-format", "xml"]);

        Assert.That(parse.Errors.Select(e => e.Message), Has.One.Contains("xml"));
    }
}
