using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>Starts a fresh <see cref="TestApiServer"/> for every test, with a KubernetesClient pointed at it.</summary>
public abstract class ApiServerFixture
{
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    protected TestApiServer Server { get; private set; } = null!;
    protected Kubernetes Client { get; private set; } = null!;

    protected virtual TestApiServerOptions Options => new();

    [SetUp]
    public async Task StartServer()
    {
        Server = new TestApiServer(Options);
        await Server.StartAsync();
        Client = Server.CreateClient();
    }

    [TearDown]
    public async Task StopServer()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>The Status body of a failed call, as the server sent it.</summary>
    protected static async Task<(int Code, JsonObject Status)> FailureOf(Func<Task> call)
    {
        var error = Assert.ThrowsAsync<HttpOperationException>(async () => await call());
        await Task.CompletedTask;
        return ((int)error!.Response.StatusCode, JsonNode.Parse(error.Response.Content)!.AsObject());
    }

    protected static CancellationTokenSource Deadline() => new(Patience);

    /// <summary>Reads watch events until <paramref name="count"/> arrived (or the deadline passes).</summary>
    protected static async Task<List<(WatchEventType Type, T Object)>> Take<T>(IAsyncEnumerator<(WatchEventType, T)> events, int count)
    {
        var taken = new List<(WatchEventType, T)>();
        while (taken.Count < count && await events.MoveNextAsync()) taken.Add(events.Current);
        return taken;
    }

    /// <summary>Like <see cref="Take{T}"/>, skipping BOOKMARK events.</summary>
    protected static async Task<List<(WatchEventType Type, T Object)>> TakeChanges<T>(IAsyncEnumerator<(WatchEventType, T)> events, int count)
    {
        var taken = new List<(WatchEventType, T)>();
        while (taken.Count < count && await events.MoveNextAsync())
            if (events.Current.Item1 != WatchEventType.Bookmark) taken.Add(events.Current);
        return taken;
    }

    protected async Task CreateWidgetCrdAsync()
    {
        var yaml = await File.ReadAllTextAsync(TestData("widgets-crd.yaml"));
        var crd = KubernetesYaml.Deserialize<k8s.Models.V1CustomResourceDefinition>(yaml);
        await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
    }

    protected static string TestData(string name) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "Cluster", "testdata", name);
}
