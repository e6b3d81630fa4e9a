using System.Text.RegularExpressions;

namespace MiniLb.Operator.Tests;

/// <summary>
/// Dependencies point one way (docs/architecture.md): Cli → everything; Controllers → Kube, Resolution, Routes,
/// Entities, Liveness; Kube → nothing of the application. Read from the sources, so an arrow that turns back fails here
/// with the file and line, not in a review.
/// </summary>
public sealed partial class DependencyDirectionTests
{
    private static readonly string[] Application = ["Cli", "Controllers", "Dns", "Entities", "Liveness", "Manifests", "Observability", "Resolution", "Routes", "Snapshot"];

    [TestCase("Kube", new[] { "Cli", "Controllers", "Dns", "Entities", "Liveness", "Manifests", "Observability", "Resolution", "Routes", "Snapshot" })]
    [TestCase("Controllers", new[] { "Cli" })]
    [TestCase("Resolution", new[] { "Cli", "Controllers" })]
    [TestCase("Dns", new[] { "Cli", "Controllers" })]
    [TestCase("Forwarding", new[] { "Cli", "Controllers", "Dns" })]
    [TestCase("Routes", new[] { "Cli", "Controllers" })]
    [TestCase("Transfer", new[] { "Cli", "Controllers" })]
    public void A_folder_does_not_reach_back_into(string folder, string[] forbidden)
    {
        var offending = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(OperatorSource(), folder), "*.cs", SearchOption.AllDirectories))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var code = lines[i].Split("//")[0];
                foreach (Match m in Reference().Matches(code))
                {
                    if (forbidden.Contains(m.Groups["ns"].Value))
                        offending.Add($"{Path.GetFileName(file)}:{i + 1}: {lines[i].Trim()}");
                }
            }
        }
        Assert.That(offending, Is.Empty, $"Operator/{folder} must not depend on {string.Join(", ", forbidden)}");
    }

    [Test]
    public void The_check_sees_a_reference_when_there_is_one()
    {
        Assert.That(Reference().Match("using MiniLb.Operator.Cli;").Groups["ns"].Value, Is.EqualTo("Cli"));
        Assert.That(Reference().Match("x = Resolution.WatchedKinds.Services(c);").Groups["ns"].Value, Is.EqualTo("Resolution"));
        Assert.That(Reference().Match("var kind = Kinds.Service;").Success, Is.False);
        Assert.That(Application, Is.SupersetOf(new[] { "Cli", "Controllers" }));
    }

    // `MiniLb.Operator.X` or a qualified `X.Type` where X is one of the application's folders (namespaces).
    [GeneratedRegex(@"(?:MiniLb\.Operator\.|(?<![\w.]))(?<ns>Cli|Controllers|Dns|Entities|Forwarding|Liveness|Manifests|Observability|Resolution|Routes|Snapshot)\b(?:;|\.[A-Z])")]
    private static partial Regex Reference();

    private static string OperatorSource()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MiniLb.Operator.sln")))
                return Path.Combine(dir.FullName, "Operator");
        }
        Assert.Ignore("the repository root (MiniLb.Operator.sln) is not above the test directory, so the sources cannot be read");
        return "";
    }
}
