using System.Reflection;
using ARSoft.Tools.Net.Dns;
using Org.BouncyCastle.Security;

namespace MiniLb.Operator.Tests;

/// <summary>
/// Message IDs from the kernel instead of OpenSSL stay random: an ID minilb sends (NOTIFY, a forwarded query) is what
/// an off-path sender would have to guess, and ARSoft's messages still get IDs of their own.
/// </summary>
public sealed class MessageIdsTests
{
    [Test]
    public void ARSoft_draws_message_IDs_from_the_kernel_and_they_differ()
    {
        // AssemblySetUp installs it as Program.Main does.
        var random = MessageIds.ArSoftRandom(null);
        var generator = typeof(SecureRandom).GetField("generator", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(random);
        Assert.That(generator!.GetType().Name, Is.EqualTo("KernelRandom"), "not BouncyCastle's CryptoApiRandomGenerator (OpenSSL on Linux)");

        var ids = Enumerable.Range(0, 64).Select(_ => new DnsMessage().TransactionID).ToList();
        // 64 draws of 65,534 IDs: on average 0.03 pairs collide; a constant or counting source fails either check.
        Assert.That(ids.Distinct().Count(), Is.GreaterThan(60));
        Assert.That(ids.Zip(ids.Skip(1)).Count(p => p.Second == p.First + 1), Is.LessThan(4), "not a counter");
    }

    [Test]
    public void IDs_spread_over_the_whole_16_bits_across_many_pool_refills()
    {
        // 10,000 IDs (78 refills of the 256-byte pool) from 65,536: about 9,270 distinct, standard deviation ~25.
        var ids = Enumerable.Range(0, 10_000).Select(_ => MessageIds.Next()).ToList();
        Assert.That(ids.Distinct().Count(), Is.InRange(9_000, 9_600));
        Assert.That(ids.Count(id => id >= 0x8000), Is.InRange(4_700, 5_300), "the high bit is set half the time");
        Assert.That(ids.Count(id => (id & 1) == 1), Is.InRange(4_700, 5_300), "the low bit is set half the time");
    }

    [Test]
    public void A_buffer_larger_than_the_pool_is_filled_whole()
    {
        var bytes = new byte[1000];
        MessageIds.Fill(bytes);
        // 1,000 random bytes: about 4 zeros; a buffer left partly unfilled has a run of them.
        Assert.That(bytes.Count(b => b == 0), Is.LessThan(30));
        Assert.That(bytes[^16..].Any(b => b != 0), Is.True, "the tail is filled too");
    }
}
