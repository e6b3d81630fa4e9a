using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests;

/// <summary>A test API server plus a scratch directory with a kubeconfig, for tests that drive real clients.</summary>
public abstract class CliFixture : ApiServerFixture
{
    protected string Scratch { get; private set; } = null!;
    protected string Kubeconfig { get; private set; } = null!;

    /// <summary>Runs a located tool, or ignores the test with the reason when it is not installed.</summary>
    protected CliTool Tool(string name)
    {
        var path = CliTool.Locate(name);
        if (path is null) Assert.Ignore($"{name} was not found in .tools/bin or on PATH; run `make tools` to install helm v4 and kubectl 1.34");
        return new CliTool(path!, Kubeconfig, Path.Combine(Scratch, "home"));
    }

    [SetUp]
    public void PrepareScratch()
    {
        Scratch = Directory.CreateTempSubdirectory("minilb-cli-").FullName;
        Directory.CreateDirectory(Path.Combine(Scratch, "home"));
        Kubeconfig = Server.WriteKubeconfig(Path.Combine(Scratch, "kubeconfig"));
    }

    [TearDown]
    public void RemoveScratch() => Directory.Delete(Scratch, recursive: true);

    protected string WriteFile(string name, string text)
    {
        var path = Path.Combine(Scratch, name);
        File.WriteAllText(path, text);
        return path;
    }

    protected static void Succeeded(CliResult result) => Assert.That(result.ExitCode, Is.Zero, result.ToString());
}
