using System.Diagnostics;
using System.Text;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>
/// A real secondary from Debian on 127.0.0.1 — Knot DNS (<c>knotd</c>) or Unbound with an <c>auth-zone</c> — that
/// transfers the zone from minilb, takes NOTIFY from it and answers the names itself. Everything lives in a
/// temporary directory, deleted on dispose.
/// </summary>
internal sealed class SecondaryServer : IDisposable
{
    private readonly Process process;
    private readonly string directory;
    private readonly StringBuilder log = new();

    private SecondaryServer(string name, Process process, string directory, int port)
    {
        (Name, this.process, this.directory, Port) = (name, process, directory, port);
    }

    public string Name { get; }
    public int Port { get; }

    /// <summary>What the server logged, for a failure message.</summary>
    public string Log
    {
        get
        {
            lock (log)
                return log.ToString();
        }
    }

    /// <summary>The server's binary, or null when its Debian package is not installed.</summary>
    public static string? Binary(string name) =>
        new[] { $"/usr/sbin/{Daemon(name)}", $"/usr/bin/{Daemon(name)}" }.FirstOrDefault(File.Exists);

    private static string Daemon(string name) => name == "knot" ? "knotd" : "unbound";

    /// <summary>
    /// Starts <paramref name="name"/> (knot or unbound) on <paramref name="port"/> as a secondary of <paramref name="zone"/>,
    /// and of each of <paramref name="moreZones"/> (reverse zones), at 127.0.0.1:<paramref name="primaryPort"/>.
    /// </summary>
    public static SecondaryServer Start(string name, int port, string zone, int primaryPort, params string[] moreZones)
    {
        var binary = Binary(name) ?? throw new InvalidOperationException($"{Daemon(name)} is not installed");
        var directory = Directory.CreateTempSubdirectory($"minilb-{name}-").FullName;
        var config = Path.Combine(directory, name + ".conf");
        string[] zones = [zone, .. moreZones];
        File.WriteAllText(config, name == "knot" ? KnotConfig(directory, port, zones, primaryPort) : UnboundConfig(directory, port, zones, primaryPort));
        string[] args = name == "knot" ? ["-c", config] : ["-d", "-c", config];
        var start = new ProcessStartInfo(binary, args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{binary} did not start");
        var secondary = new SecondaryServer(name, process, directory, port);
        process.ErrorDataReceived += (_, e) => secondary.Append(e.Data);
        process.OutputDataReceived += (_, e) => secondary.Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return secondary;
    }

    // NOTIFY is accepted from minilb's address; the transfer itself needs no ACL on the secondary's side.
    private static string KnotConfig(string directory, int port, string[] zones, int primaryPort) => $"""
        server:
            rundir: "{directory}"
            listen: 127.0.0.1@{port}
        control:
            listen: "{directory}/knot.sock"
        database:
            storage: "{directory}/db"
        log:
          - target: stderr
            any: info
        remote:
          - id: minilb
            address: 127.0.0.1@{primaryPort}
        acl:
          - id: notify-from-minilb
            address: 127.0.0.1
            action: notify
        template:
          - id: default
            storage: "{directory}/zones"
        zone:
        {string.Concat(zones.Select(zone => $"""
          - domain: {zone}
            master: minilb
            acl: notify-from-minilb

        """))}
        """;

    // docs/forwarding.md's auth-zone (for a reverse zone in 10.0.0.0/8 with its local-zone line: Unbound's own
    // RFC 6303 zone would answer NXDOMAIN first), plus what a test on loopback needs: no chroot or user switch, and permission
    // to reach a primary on 127.0.0.1 (do-not-query-localhost).
    private static string UnboundConfig(string directory, int port, string[] zones, int primaryPort) => $"""
        server:
          interface: 127.0.0.1@{port}
          port: {port}
          username: ""
          chroot: ""
          directory: "{directory}"
          pidfile: "{directory}/unbound.pid"
          use-syslog: no
          logfile: ""
          verbosity: 2
          do-not-query-localhost: no
          module-config: "iterator"
        {string.Concat(zones.Select(zone => $"""
          domain-insecure: "{zone}"

        """))}
        {(zones.Any(z => z.EndsWith(".10.in-addr.arpa", StringComparison.Ordinal)) ? """
          local-zone: "10.in-addr.arpa." nodefault
        """ : "")}
        {string.Concat(zones.Select(zone => $"""
        auth-zone:
          name: "{zone}"
          primary: 127.0.0.1@{primaryPort}
          allow-notify: 127.0.0.1
          for-downstream: no
          for-upstream: yes
          fallback-enabled: no
          zonefile: "{directory}/{zone}.zone"

        """))}
        remote-control:
          control-enable: no
        """;

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (log)
            log.AppendLine(line);
    }

    /// <summary>The server's own answer (kdig, UDP, RD=1 as a router's clients send): the A records of <paramref name="name"/>, sorted.</summary>
    public Task<string[]> AddressesAsync(string name) => KdigAsync(name, "A");

    /// <summary>The server's own reverse answer (<c>kdig -x</c>): the PTR targets of <paramref name="address"/>, sorted.</summary>
    public Task<string[]> PointersAsync(string address) => KdigAsync("-x", address);

    private async Task<string[]> KdigAsync(string first, string second)
    {
        var kdig = new ProcessStartInfo("kdig", ["@127.0.0.1", "-p", Port.ToString(), first, second, "+short", "+time=1", "+retry=0"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(kdig)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith(';')).Order(StringComparer.Ordinal)];
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        finally
        {
            process.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }
}
