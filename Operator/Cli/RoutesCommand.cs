using System.CommandLine;
using MiniLb.Operator.Resolution;
using MiniLb.Operator.Routes;

namespace MiniLb.Operator.Cli;

/// <summary>`minilb routes`: the static routes the LAN router needs (podCIDR via node InternalIP).</summary>
public static class RoutesCommand
{
    public static Command Create()
    {
        var snapshot = SnapshotInput.CreateOption();
        var format = new Option<string>("--format")
        {
            Description = "ip (Linux), bsd (BSD/macOS), routeros, openwrt (UCI), dnsmasq (DHCP option 121) or json.",
            DefaultValueFactory = _ => "ip",
        };
        format.AcceptOnlyFromAmong([.. RouteFormats.Names]);

        var command = new Command("routes", "Print the routes to add to the LAN router.") { snapshot, format };
        command.SetAction((parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            // Nodes come from a snapshot file; reading them from a cluster (--kubeconfig) is a later addition here.
            var model = SnapshotInput.Load("routes", parse.GetValue(snapshot), new ZoneSettings(), error);
            if (model is null)
                return Task.FromResult(CommandLine.BadInput);

            var plan = RoutePlan.FromNodes(model.Nodes);
            var chosen = parse.GetValue(format) ?? "ip";
            output.Write(RouteFormats.Render(plan, chosen));
            if (chosen != "json")
            {
                // Problems go to stderr so the routes can be piped into a shell or a config file.
                foreach (var problem in plan.Problems)
                    error.WriteLine($"minilb routes: node {problem.Node} gets no route: {problem.Reason}");
            }
            return Task.FromResult(0);
        });
        return command;
    }
}
