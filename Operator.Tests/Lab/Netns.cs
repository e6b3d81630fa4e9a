using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace MiniLb.Operator.Tests.Lab;

/// <summary>Programs run to completion (ip, dig, dnsmasq --test): exit code and output.</summary>
public sealed record Ran(int Code, string Output, string Error)
{
    public Ran Check(string what) => Code == 0 ? this : throw new InvalidOperationException($"{what} failed ({Code}): {Error.Trim()} {Output.Trim()}");
}

/// <summary>Linux network namespaces, as `ip netns` makes them; everything here needs root.</summary>
public static class Netns
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>Null when namespaces can be made here, else why not.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
            return "network namespaces need Linux";
        if (Environment.UserName != "root")
            return "the lab needs root to create network namespaces (ip netns)";
        var probe = "mlbprobe" + Environment.ProcessId;
        var made = RunAsync("ip", ["netns", "add", probe]).GetAwaiter().GetResult();
        if (made.Code != 0)
            return $"`ip netns add` does not work here: {made.Error.Trim()}";
        RunAsync("ip", ["netns", "del", probe]).GetAwaiter().GetResult();
        return null;
    }

    public static async Task<Ran> RunAsync(string file, IEnumerable<string> args, string? input = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
        };
        using var process = Process.Start(info)!;
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }
        return new Ran(process.ExitCode, await output, await error);
    }

    /// <summary>`ip netns exec NS FILE ARGS...` to completion.</summary>
    public static Task<Ran> ExecAsync(string ns, string file, params string[] args) =>
        RunAsync("ip", ["netns", "exec", ns, file, .. args]);

    /// <summary>
    /// A TCP listener bound inside namespace <paramref name="ns"/>. The socket is made on a thread of its own that
    /// enters the namespace and then ends, so no other thread of the test process changes namespace.
    /// </summary>
    public static Socket ListenIn(string ns, IPEndPoint endPoint)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{ns}");
                if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns into {ns} failed: errno {Marshal.GetLastPInvokeError()}");
                socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(endPoint);
                socket.Listen(64);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException($"cannot listen on {endPoint} in {ns}", failure);
    }

    // DllImport, not LibraryImport: the generated marshalling needs unsafe code, which the test project does not allow.
#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNs(int fd, int nsType);
#pragma warning restore SYSLIB1054
}

/// <summary>
/// Forwards connections accepted inside a namespace to an address of the test process's own namespace: how
/// minilb on a lab node reaches the test API server, which listens on the host's loopback.
/// </summary>
public sealed class PortForward : IAsyncDisposable
{
    private readonly Socket listener;
    private readonly IPEndPoint target;
    private readonly CancellationTokenSource stop = new();
    private readonly Task accepting;

    public PortForward(string ns, IPEndPoint listen, IPEndPoint target)
    {
        listener = Netns.ListenIn(ns, listen);
        this.target = target;
        accepting = AcceptAsync();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var inside = await listener.AcceptAsync(stop.Token);
                _ = PumpAsync(inside);
            }
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task PumpAsync(Socket inside)
    {
        using (inside)
        using (var outside = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                await outside.ConnectAsync(target, stop.Token);
                await using var a = new NetworkStream(inside);
                await using var b = new NetworkStream(outside);
                // Either side closing ends both: watches are long streams, and the API server may close them.
                await Task.WhenAny(a.CopyToAsync(b, stop.Token), b.CopyToAsync(a, stop.Token));
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Dispose();
        await accepting;
        stop.Dispose();
    }
}

/// <summary>A long-running program inside a namespace whose output lines are kept (and can be waited for).</summary>
public sealed class LabProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<string> lines = [];
    private readonly StringBuilder error = new();

    public LabProcess(string ns, string file, params string[] args)
    {
        Name = Path.GetFileName(file);
        process = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns, file, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (lines)
                lines.Add(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (error)
                error.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => process.HasExited;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (lines)
                return lines.ToList();
        }
    }

    public string Error
    {
        get
        {
            lock (error)
                return error.ToString();
        }
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(deadline.Token);
        process.WaitForExit(); // flushes the output events
    }

    private bool disposed;

    public async ValueTask DisposeAsync()
    {
        if (disposed)
            return;
        disposed = true;
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}
