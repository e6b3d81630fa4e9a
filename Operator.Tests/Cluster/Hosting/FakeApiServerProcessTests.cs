using System.Diagnostics;
using k8s;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>The standalone mode (<c>make fake-apiserver</c>): the test assembly run as a program.</summary>
public sealed class FakeApiServerProcessTests
{
    [TestCase]
    [TestCase("--https", "--rbac")]
    public async Task It_serves_writes_a_kubeconfig_and_prints_ready(params string[] options)
    {
        var scratch = Directory.CreateTempSubdirectory("minilb-fake-").FullName;
        var kubeconfig = Path.Combine(scratch, "kubeconfig");
        var assembly = typeof(FakeApiServerCommand).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { assembly, "fake-apiserver", "--port", "0", "--kubeconfig", kubeconfig }.Concat(options)) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            string? line;
            do line = await process.StandardOutput.ReadLineAsync(deadline.Token);
            while (line is not null and not "ready");
            if (line != "ready") Assert.Fail($"no ready line; stderr: {await process.StandardError.ReadToEndAsync(deadline.Token)}");

            var configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
            using var client = new Kubernetes(configuration);
            var namespaces = await client.CoreV1.ListNamespaceAsync(cancellationToken: deadline.Token);

            Assert.That(namespaces.Items.Select(n => n.Metadata.Name), Does.Contain("default"));
            Assert.That(configuration.Host, Does.StartWith(options.Contains("--https") ? "https://" : "http://"));
            if (options.Contains("--rbac"))
            {
                // The kubeconfig's admin token is checked: without it the same call is anonymous and refused.
                using var anonymous = new Kubernetes(new KubernetesClientConfiguration { Host = configuration.Host, SslCaCerts = configuration.SslCaCerts });
                var refused = Assert.CatchAsync<k8s.Autorest.HttpOperationException>(() => anonymous.CoreV1.ListNamespaceAsync(cancellationToken: deadline.Token));
                Assert.That((int)refused!.Response.StatusCode, Is.EqualTo(403));
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Test]
    public async Task Bad_options_exit_with_code_2_and_say_why()
    {
        var stderr = new StringWriter();

        var code = await FakeApiServerCommand.RunAsync(["--port", "many"], TextWriter.Null, stderr);

        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr.ToString(), Does.Contain("fake-apiserver:").And.Contain("usage:"));
    }
}
