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
    public static int Tcp(int port, params string[] states)
    {
        var count = 0;
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(file))
                continue;
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var localPort = int.Parse(fields[1][(fields[1].LastIndexOf(':') + 1)..], NumberStyles.HexNumber);
                if (localPort == port && states.Contains(fields[3]))
                    count++;
            }
        }
        return count;
    }

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
