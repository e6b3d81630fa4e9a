using System.CommandLine;
using k8s;
using k8s.Models;
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
            Description = "ip (Linux), bsd (BSD/macOS), routeros, openwrt (UCI), dnsmasq (DHCP option 121), isc-dhcpd (option 121, any number of routes) or json.",
            DefaultValueFactory = _ => "ip",
        };
        format.AcceptOnlyFromAmong([.. RouteFormats.Names]);

        var kubeconfig = RunCommand.KubeconfigOption();
        kubeconfig.Description = "Read the Nodes from this cluster instead of a --snapshot file.";
        var command = new Command("routes", "Print the routes to add to the LAN router.") { snapshot, kubeconfig, format };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var nodes = await NodesAsync(parse.GetValue(snapshot), parse.GetValue(kubeconfig), error, ct);
            if (nodes is null)
                return CommandLine.BadInput;

            var plan = RoutePlan.FromNodes(nodes);
            var chosen = parse.GetValue(format) ?? "ip";
            output.Write(RouteFormats.Render(plan, chosen));
            if (chosen != "json")
            {
                // Problems go to stderr so the routes can be piped into a shell or a config file.
                foreach (var problem in plan.Problems)
                    error.WriteLine($"minilb routes: node {problem.Node} gets no route: {problem.Reason}");
                if (chosen == "dnsmasq" && DhcpOption121.From(plan).Problem is { } tooLong)
                    error.WriteLine($"minilb routes: {tooLong}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The Nodes of the snapshot file, or of the live cluster when --kubeconfig is given without --snapshot.</summary>
    private static async Task<IReadOnlyCollection<V1Node>?> NodesAsync(FileInfo? snapshot, string? kubeconfig, TextWriter error, CancellationToken ct)
    {
        if (snapshot is not null || kubeconfig is null)
            return SnapshotInput.Load("routes", snapshot, new ZoneSettings(), error)?.Nodes;
        using var client = await RunCommand.ConnectAsync("routes", kubeconfig, error, ct);
        if (client is null)
            return null;
        var nodes = new List<V1Node>();
        string? next = null;
        do
        {
            var page = await client.CoreV1.ListNodeAsync(continueParameter: next, limit: 500, cancellationToken: ct);
            nodes.AddRange(page.Items);
            next = page.Metadata?.ContinueProperty is { Length: > 0 } token ? token : null;
        }
        while (next is not null);
        return nodes;
    }
}
