using System.Globalization;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>What Linux says about this process's sockets (<c>/proc</c>); tests that need it skip elsewhere.</summary>
internal static class ProcessSockets
{
    public static bool Visible => File.Exists("/proc/net/tcp") && Directory.Exists("/proc/self/fd");

    public static void IgnoreUnlessVisible()
    {
        if (!Visible)
            Assert.Ignore("needs Linux /proc to count sockets");
    }

    /// <summary>File descriptors of this process that are sockets (client and server side alike).</summary>
    public static int Open()
    {
        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                    count++;
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        return count;
    }

    /// <summary>TCP sockets on local port <paramref name="port"/> by state (hex as in /proc/net/tcp: 01 ESTABLISHED, 08 CLOSE-WAIT, 0A LISTEN).</summary>
    public static int Tcp(int port, params string[] states) =>
        Sockets("tcp", port).Count(fields => states.Contains(fields[3]));

    /// <summary>
    /// Datagrams the kernel dropped for UDP sockets on local port <paramref name="port"/> (the last column of
    /// /proc/net/udp: a full receive buffer, where an overloaded server sheds load); 0 where /proc is not there.
    /// </summary>
    public static long UdpDrops(int port) =>
        Sockets("udp", port).Sum(fields => long.Parse(fields[^1], CultureInfo.InvariantCulture));

    /// <summary>The fields of each line of /proc/net/<paramref name="protocol"/>(6) for local port <paramref name="port"/>.</summary>
    private static IEnumerable<string[]> Sockets(string protocol, int port) =>
        new[] { $"/proc/net/{protocol}", $"/proc/net/{protocol}6" }.Where(File.Exists)
            .SelectMany(file => File.ReadLines(file).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => int.Parse(fields[1][(fields[1].LastIndexOf(':') + 1)..], NumberStyles.HexNumber) == port);

    public const string Established = "01", CloseWait = "08";

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="patience"/> (default 10 s) runs out.</summary>
    public static async Task<bool> Eventually(Func<bool> condition, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? TestDnsServer.Patience);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(50);
        }
        return true;
    }
}
