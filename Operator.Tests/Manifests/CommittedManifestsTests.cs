using MiniLb.Operator.Cli;
using MiniLb.Operator.Manifests;

namespace MiniLb.Operator.Tests.Manifests;

public sealed class CommittedManifestsTests
{
    [Test]
    public void The_committed_config_is_what_the_code_generates()
    {
        var config = Path.Combine(RepositoryRoot(), "config");
        var generated = ManifestSet.Generate();
        var stale = new List<string>();
        foreach (var manifest in generated)
        {
            var path = Path.Combine(config, manifest.Path);
            if (!File.Exists(path) || File.ReadAllText(path) != manifest.Yaml)
                stale.Add($"config/{manifest.Path}");
        }
        // crd/ and rbac/ hold only generated files; samples/ may hold hand-written ones too.
        var expected = generated.Select(m => Path.GetFullPath(Path.Combine(config, m.Path))).ToHashSet();
        stale.AddRange(new[] { "crd", "rbac" }
            .Select(dir => Path.Combine(config, dir))
            .Where(Directory.Exists)
            .SelectMany(dir => Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
            .Where(file => !expected.Contains(Path.GetFullPath(file)))
            .Select(file => $"{Path.GetRelativePath(RepositoryRoot(), file)} (not generated any more)"));

        Assert.That(stale, Is.Empty, $"config/ is out of date with the C# types; regenerate it with:\n  {ManifestSet.Regenerate}\n");
    }

    [Test]
    public async Task Minilb_manifests_writes_the_kubebuilder_layout()
    {
        var output = Path.Combine(Path.GetTempPath(), $"minilb-manifests-{Guid.NewGuid():N}");
        try
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var code = await CommandLine.RunAsync(["manifests", "--output", output, "--namespace", "lb-system"], stdout, stderr);

            Assert.That(code, Is.Zero, stderr.ToString());
            Assert.That(File.Exists(Path.Combine(output, "crd", "minilb.io_minilbconfigs.yaml")), Is.True);
            Assert.That(File.Exists(Path.Combine(output, "samples", "minilb_v1alpha1_minilbconfig.yaml")), Is.True);
            Assert.That(File.ReadAllText(Path.Combine(output, "rbac", "leader_election_role.yaml")), Does.Contain("namespace: lb-system"));
            Assert.That(stdout.ToString(), Does.Contain("rbac/role.yaml"));
        }
        finally
        {
            if (Directory.Exists(output))
                Directory.Delete(output, recursive: true);
        }
    }

    [Test]
    public async Task A_bad_namespace_is_refused_with_exit_code_2_naming_the_option()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await CommandLine.RunAsync(["manifests", "--output", Path.GetTempPath(), "--namespace", "Bad_NS"], stdout, stderr);

        Assert.That(code, Is.EqualTo(CommandLine.BadInput));
        Assert.That(stderr.ToString(), Does.Contain("--namespace").And.Contain("Bad_NS"));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MiniLb.Operator.sln")))
                return dir.FullName;
        }
        Assert.Ignore("the repository root (MiniLb.Operator.sln) is not above the test directory, so config/ cannot be compared");
        return "";
    }
}
