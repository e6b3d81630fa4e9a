using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

public sealed class ClusterConnectionTests
{
    private string directory = null!;

    [SetUp]
    public void CreateDirectory() => Directory.CreateDirectory(directory = Path.Combine(Path.GetTempPath(), $"minilb-kubeconfig-{Guid.NewGuid():N}"));

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(directory, recursive: true);

    [Test]
    public void The_kubeconfig_option_wins_over_KUBECONFIG()
    {
        var given = Kubeconfig("given", "https://127.0.0.1:6443");
        var fromEnvironment = Kubeconfig("env", "https://127.0.0.2:6443");

        var configuration = ClusterConnection.Configuration(given, Environment(fromEnvironment));

        Assert.That(configuration.Host, Does.StartWith("https://127.0.0.1:6443"));
    }

    [Test]
    public void KUBECONFIG_is_used_when_no_file_is_given_and_its_first_existing_file_counts()
    {
        var file = Kubeconfig("env", "https://127.0.0.2:6443");

        var configuration = ClusterConnection.Configuration(null, Environment($"{Path.Combine(directory, "missing")}{Path.PathSeparator}{file}"));

        Assert.That(configuration.Host, Does.StartWith("https://127.0.0.2:6443"));
    }

    [Test]
    public void A_missing_kubeconfig_is_named_with_where_it_came_from()
    {
        var missing = Path.Combine(directory, "nope");

        Assert.That(() => ClusterConnection.Configuration(missing, Environment(null)),
            Throws.TypeOf<ClusterConnectionException>().With.Message.Contains(missing).And.Message.Contains("--kubeconfig"));
    }

    [Test]
    public void A_kubeconfig_that_is_not_one_says_so()
    {
        var broken = Path.Combine(directory, "broken");
        File.WriteAllText(broken, "this: [is not a kubeconfig");

        Assert.That(() => ClusterConnection.Configuration(broken, Environment(null)),
            Throws.TypeOf<ClusterConnectionException>().With.Message.Contains(broken).And.Message.Contains("cannot be used"));
    }

    private static Func<string, string?> Environment(string? kubeconfig) => name => name == "KUBECONFIG" ? kubeconfig : null;

    private string Kubeconfig(string name, string server)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: {server}
                insecure-skip-tls-verify: true
            users:
            - name: test
              user:
                token: secret
            contexts:
            - name: test
              context:
                cluster: test
                user: test
            current-context: test
            """);
        return path;
    }
}
