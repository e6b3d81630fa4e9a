using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests;

/// <summary>Once per test run, before any test: the process-wide settings the minilb binary makes in Main.</summary>
[SetUpFixture]
public sealed class AssemblySetUp
{
    [OneTimeSetUp]
    public void AsTheBinaryDoes()
    {
        ModelJson.UseReflection(); // models (de)serialised as in the AOT binary
        MessageIds.UseForArSoft(); // ARSoft's message IDs from the kernel, not OpenSSL
    }
}
