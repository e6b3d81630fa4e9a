using System.Text;
using System.Text.RegularExpressions;
using MiniLb.Operator.Cli;

namespace MiniLb.Operator.Tests.Cli;

/// <summary>Runs <c>minilb</c> in-process and collects what it prints.</summary>
internal sealed partial class CliRun
{
    public int ExitCode { get; private init; }
    public required string Output { get; init; }
    public required string Error { get; init; }

    public static async Task<CliRun> RunAsync(params string[] args)
    {
        var output = new LockedWriter();
        var error = new LockedWriter();
        var code = await CommandLine.RunAsync(args, output, error);
        return new CliRun { ExitCode = code, Output = output.ToString(), Error = error.ToString() };
    }

    /// <summary>A running <c>serve</c>; dispose to stop it (as Ctrl-C does).</summary>
    public sealed partial class Serving : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task<int> run;

        public Serving(params string[] args)
        {
            run = CommandLine.RunAsync(args, Output, Error, stop.Token);
        }

        public LockedWriter Output { get; } = new();
        public LockedWriter Error { get; } = new();

        /// <summary>The DNS port, once serve says where it listens.</summary>
        public async Task<int> PortAsync()
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                if (ListeningOn().Match(Output.ToString()) is { Success: true } match)
                    return int.Parse(match.Groups[1].Value);
                await Task.Delay(20);
            }
            Assert.Fail($"serve did not start listening.\nstdout:\n{Output}\nstderr:\n{Error}");
            return 0;
        }

        public async Task<int> StopAsync()
        {
            await stop.CancelAsync();
            return await run.WaitAsync(TimeSpan.FromSeconds(30));
        }

        public async ValueTask DisposeAsync()
        {
            if (!run.IsCompleted)
                await StopAsync();
        }

        [GeneratedRegex(@"listening on 127\.0\.0\.1:(\d+)")]
        private static partial Regex ListeningOn();
    }

    /// <summary>A StringWriter safe to read while the command writes from another thread.</summary>
    internal sealed class LockedWriter : StringWriter
    {
        private readonly Lock gate = new();

        public override void Write(char value)
        {
            lock (gate)
                base.Write(value);
        }

        public override void Write(string? value)
        {
            lock (gate)
                base.Write(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            lock (gate)
                base.Write(buffer, index, count);
        }

        public override Task WriteAsync(string? value)
        {
            Write(value);
            return Task.CompletedTask;
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }

        public override Task WriteLineAsync()
        {
            WriteLine();
            return Task.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override string ToString()
        {
            lock (gate)
                return base.ToString();
        }
    }
}
