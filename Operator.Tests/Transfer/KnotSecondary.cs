using System.Diagnostics;
using System.Text;

namespace MiniLb.Operator.Tests.Transfer;

/// <summary>
/// Knot DNS (<c>knotd</c>, Debian's knot package) on 127.0.0.1 as a secondary of minilb: it transfers the zone from
/// minilb, takes NOTIFY from it, and answers the names itself. Everything lives in a temporary directory.
/// </summary>
internal sealed class KnotSecondary : IDisposable
{
    private readonly Process process;
    private readonly string directory;
    private readonly StringBuilder log = new();

    private KnotSecondary(Process process, string directory, int port)
    {
        (this.process, this.directory, Port) = (process, directory, port);
    }

    public int Port { get; }

    /// <summary>What knotd logged, for a failure message.</summary>
    public string Log
    {
        get
        {
            lock (log)
                return log.ToString();
        }
    }

    public static string? Binary => new[] { "/usr/sbin/knotd", "/usr/bin/knotd" }.FirstOrDefault(File.Exists);

    /// <summary>Starts knotd on <paramref name="port"/> as a secondary of the zone <paramref name="zone"/> at 127.0.0.1:<paramref name="primaryPort"/>.</summary>
    public static KnotSecondary Start(int port, string zone, int primaryPort)
    {
        var knotd = Binary ?? throw new InvalidOperationException("knotd is not installed");
        var directory = Directory.CreateTempSubdirectory("minilb-knot-").FullName;
        var config = Path.Combine(directory, "knot.conf");
        // NOTIFY is accepted from minilb's address; the transfer itself needs no ACL on the secondary's side.
        File.WriteAllText(config, $"""
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
              - domain: {zone}
                master: minilb
                acl: notify-from-minilb
            """);
        var start = new ProcessStartInfo(knotd, ["-c", config]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException("knotd did not start");
        var secondary = new KnotSecondary(process, directory, port);
        process.ErrorDataReceived += (_, e) => secondary.Append(e.Data);
        process.OutputDataReceived += (_, e) => secondary.Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return secondary;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (log)
            log.AppendLine(line);
    }

    /// <summary>Knot's own answer (kdig, UDP): the A records of <paramref name="name"/>, sorted; empty when it has none or does not answer.</summary>
    public async Task<string[]> AddressesAsync(string name)
    {
        var kdig = new ProcessStartInfo("kdig", ["@127.0.0.1", "-p", Port.ToString(), name, "A", "+short", "+norec", "+time=1", "+retry=0"])
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
