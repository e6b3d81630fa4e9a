using System.Text.Json.Serialization;
using k8s;

namespace MiniLb.Operator.Kube;

/// <summary>
/// How KubernetesClient (de)serialises its models in this process. Its JSON options put a source-generated context
/// for all of its 878 model types in front of a reflection-based resolver; NativeAOT cannot tell which of them a
/// program uses and kept the code and the System.Text.Json converters of every one (about 10 MB of binary and
/// 10 MB of runtime data rehydrated at start, all resident). Without the context in the chain, the reflection-based
/// resolver handles every model, and the AOT binary keeps only the ~75 types minilb reads or writes
/// (KubernetesClient.roots.xml); KubernetesClient.substitutions.xml stubs the context's lookups out of the AOT build.
/// </summary>
internal static class ModelJson
{
    /// <summary>Call before the first (de)serialisation; later the options are read-only and this does nothing.</summary>
    public static void UseReflection()
    {
        try
        {
            KubernetesJson.AddJsonOptions(options =>
            {
                var chain = options.TypeInfoResolverChain;
                for (var i = chain.Count - 1; i >= 0; i--)
                {
                    if (chain[i] is JsonSerializerContext)
                        chain.RemoveAt(i);
                }
            });
        }
        catch (InvalidOperationException)
        {
            // Already in use (tests that serialised before calling this): the context stays, which is equivalent.
        }
    }
}
