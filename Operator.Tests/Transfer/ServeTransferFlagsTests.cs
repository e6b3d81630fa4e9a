namespace MiniLb.Operator.Tests.Transfer;

/// <summary>The <c>serve</c> flags: bad input stops with exit 2 and the flag named, before anything is served.</summary>
public class ServeTransferFlagsTests
{
    [Test]
    public async Task A_bad_transfer_flag_is_bad_input_naming_the_flag()
    {
        var run = await Cli.CliRun.RunAsync("serve", "--snapshot", TestObjects.SampleSnapshot, "--listen", "127.0.0.1:0", "--transfer-allow-from", "lan");

        Assert.That(run.ExitCode, Is.EqualTo(MiniLb.Operator.Cli.CommandLine.BadInput));
        Assert.That(run.Error, Does.Contain("--transfer-allow-from: 'lan' is not a CIDR"));
        Assert.That(run.Output, Does.Not.Contain("listening"));
    }
}
