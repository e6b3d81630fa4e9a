using System.CommandLine;
using MiniLb.Operator.Manifests;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb manifests --output DIR`: the CRD, RBAC and a sample, generated from the C# types.</summary>
public static class ManifestsCommand
{
    /// <summary>Exit code when this build cannot generate manifests (the NativeAOT binary).</summary>
    public const int NotAvailable = 3;

    public static Command Create()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Directory to write into (kubebuilder layout: crd/, rbac/, samples/).",
            DefaultValueFactory = _ => "config",
        };
        var @namespace = new Option<string>("--namespace", "-n")
        {
            Description = "Namespace of the operator's ServiceAccount and of its leader-election Role.",
            DefaultValueFactory = _ => ManifestSet.DefaultNamespace,
        };
        var command = new Command("manifests", "Write the CustomResourceDefinition, RBAC and a sample MiniLbConfig as YAML.")
        {
            output,
            @namespace,
        };
        command.SetAction((parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var ns = parse.GetValue(@namespace)!;
            if (!IsDnsLabel(ns))
            {
                parse.InvocationConfiguration.Error.WriteLine($"minilb manifests: --namespace '{ns}' is not a valid namespace name (lowercase letters, digits and '-', at most 63)");
                return Task.FromResult(CommandLine.BadInput);
            }
            if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
            {
                // KubernetesYaml (which writes the YAML) needs metadata NativeAOT strips; see docs/building.md.
                parse.InvocationConfiguration.Error.WriteLine(
                    "minilb manifests: not available in the NativeAOT binary (KubernetesClient's YAML writer needs reflection metadata); run `make manifests` or `dotnet run --project Operator -- manifests` instead");
                return Task.FromResult(NotAvailable);
            }
            foreach (var path in ManifestSet.Write(parse.GetValue(output)!, ManifestSet.Generate(ns)))
                stdout.WriteLine($"wrote {path}");
            return Task.FromResult(0);
        });
        return command;
    }

    internal static bool IsDnsLabel(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
        && name[0] != '-' && name[^1] != '-';
}
