using MiniLb.Operator.Cli;

namespace MiniLb.Operator;

public static class Program
{
    public static Task<int> Main(string[] args)
    {
        StartupMemory.ReleasePagesSoFar();
        Kube.ModelJson.UseReflection();
        MessageIds.UseForArSoft(); // before any DnsMessage: ARSoft's IDs from the kernel, not OpenSSL
        return CommandLine.RunAsync(args, Console.Out, Console.Error);
    }
}
