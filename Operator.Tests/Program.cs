using MiniLb.Operator.Tests.Cluster;

namespace MiniLb.Operator.Tests;

/// <summary>
/// The test assembly's own entry point (the test SDK's generated one is turned off), so that
/// <c>dotnet run --project Operator.Tests -- fake-apiserver ...</c> serves the test API server.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["fake-apiserver", .. var rest]) return await FakeApiServerCommand.RunAsync(rest, Console.Out, Console.Error);
        await Console.Error.WriteLineAsync("usage: Operator.Tests fake-apiserver [--port N] [--kubeconfig PATH]  (tests run with dotnet test)");
        return 2;
    }
}
