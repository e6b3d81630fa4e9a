using System.CommandLine;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Snapshot;

namespace MiniLb.Operator.Cli;

/// <summary>The <c>--snapshot FILE</c> option shared by <c>serve</c> and <c>routes</c>, and loading it into a model.</summary>
internal static class SnapshotInput
{
    public static Option<FileInfo> CreateOption() => new("--snapshot")
    {
        Description = "A file with 'kubectl get nodes,services,endpointslices,ingresses -A -o yaml' output, or multi-document YAML (Gateway API objects included).",
        HelpName = "FILE",
    };

    /// <summary>The snapshot's objects in a published model, or null after writing the reason to <paramref name="error"/>.</summary>
    public static ClusterModel? Load(string command, FileInfo? file, ZoneSettings settings, TextWriter error)
    {
        if (file is null)
        {
            error.WriteLine($"minilb {command}: --snapshot FILE is required");
            return null;
        }
        ClusterSnapshot snapshot;
        try
        {
            snapshot = SnapshotReader.Read(file.FullName);
        }
        catch (SnapshotException e)
        {
            error.WriteLine($"minilb {command}: {e.Message}");
            return null;
        }
        foreach (var note in snapshot.Notes)
            error.WriteLine($"minilb {command}: note: {note}");

        var model = new ClusterModel(settings);
        foreach (var item in snapshot.Objects)
            model.Upsert(item);
        model.Publish();
        foreach (var line in model.TakeSkipped())
            error.WriteLine($"minilb {command}: note: {line}");
        return model;
    }
}
