using System.CommandLine;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb serve --snapshot FILE`: authoritative DNS from a cluster snapshot file.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Serve DNS from a cluster snapshot file (no cluster needed).");
        command.SetAction((parse, ct) =>
        {
            parse.InvocationConfiguration.Error.WriteLine("minilb serve: not implemented yet");
            return Task.FromResult(CommandLine.BadInput);
        });
        return command;
    }
}
