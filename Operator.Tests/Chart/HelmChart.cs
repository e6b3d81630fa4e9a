using System.Diagnostics;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace MiniLb.Operator.Tests.Chart;

/// <summary>Runs the helm binary against <c>charts/minilb</c> and parses what it renders.</summary>
internal static class HelmChart
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string ChartDirectory => Path.Combine(RepositoryRoot, "charts", "minilb");

    /// <summary>helm from <c>.tools/bin</c> (<c>make tools</c>), else from PATH; null when neither has it.</summary>
    public static string? HelmPath { get; } = FindHelm();

    public static string RequireHelm() =>
        HelmPath ?? throw new IgnoreException("helm is not installed: run `make tools` (puts helm into .tools/bin) or put helm on PATH");

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(RequireHelm())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        // helm reads no cluster for lint/template; keep it off the developer's kubeconfig and caches.
        var home = Path.Combine(Path.GetTempPath(), "minilb-chart-tests");
        start.Environment["HELM_CACHE_HOME"] = Path.Combine(home, "cache");
        start.Environment["HELM_CONFIG_HOME"] = Path.Combine(home, "config");
        start.Environment["HELM_DATA_HOME"] = Path.Combine(home, "data");
        start.Environment["KUBECONFIG"] = Path.Combine(home, "no-kubeconfig");

        using var process = Process.Start(start) ?? throw new InvalidOperationException("helm did not start");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary><c>helm template</c> with <c>--set</c> pairs; fails the test with helm's message when rendering fails.</summary>
    public static async Task<Rendered> TemplateAsync(params string[] sets)
    {
        var result = await RunAsync(TemplateArgs(sets));
        Assert.That(result.ExitCode, Is.Zero, $"helm template failed:\n{result.Stderr}");
        return Rendered.Parse(result.Stdout);
    }

    public static string[] TemplateArgs(params string[] sets) =>
        ["template", "minilb", ChartDirectory, "--namespace", Namespace, .. sets.SelectMany(s => new[] { "--set", s })];

    public const string Namespace = "minilb-system";

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MiniLb.Operator.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no MiniLb.Operator.sln above {TestContext.CurrentContext.TestDirectory}");
    }

    private static string? FindHelm()
    {
        var local = Path.Combine(RepositoryRoot, ".tools", "bin", "helm");
        if (File.Exists(local))
            return local;
        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "helm"))
            .FirstOrDefault(File.Exists);
    }
}

/// <summary>The objects of one <c>helm template</c> run, as JSON trees (YAML scalars stay strings).</summary>
internal sealed class Rendered(IReadOnlyList<JsonObject> objects)
{
    public IReadOnlyList<JsonObject> Objects { get; } = objects;

    public static Rendered Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return new Rendered(stream.Documents
            .Where(d => d.RootNode is YamlMappingNode)
            .Select(d => (JsonObject)ToJson(d.RootNode)!)
            .ToList());
    }

    public IEnumerable<JsonObject> OfKind(string kind) => Objects.Where(o => (string?)o["kind"] == kind);

    public JsonObject Single(string kind)
    {
        var found = OfKind(kind).ToList();
        Assert.That(found, Has.Count.EqualTo(1), $"expected exactly one {kind}");
        return found[0];
    }

    /// <summary>The Deployment or DaemonSet running minilb.</summary>
    public JsonObject Workload => Objects.Single(o => (string?)o["kind"] is "Deployment" or "DaemonSet");

    public JsonObject Container => (JsonObject)Workload["spec"]!["template"]!["spec"]!["containers"]![0]!;

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Value: null or "null" or "~" } scalar when scalar.Style == YamlDotNet.Core.ScalarStyle.Plain => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => null,
    };
}
