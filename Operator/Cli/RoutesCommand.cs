using System.CommandLine;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb routes`: the static routes the LAN router needs (podCIDR via node InternalIP).</summary>
public static class RoutesCommand
{
    public static Command Create()
    {
        var command = new Command("routes", "Print the routes to add to the LAN router.");
        command.SetAction((parse, ct) =>
        {
            parse.InvocationConfiguration.Error.WriteLine("minilb routes: not implemented yet");
            return Task.FromResult(CommandLine.BadInput);
        });
        return command;
    }
}
