namespace MiniLb.Operator.Tests;

/// <summary>
/// Which mappings the end of start-up hands back: the binary's code, read-only data and data segment (its type data),
/// not the anonymous memory after it, nothing of other files.
/// </summary>
public sealed class StartupMemoryTests
{
    private static readonly string[] Maps =
    [
        "55d0c1800000-55d0c181d000 r--p 00000000 08:01 1234                       /app/minilb",
        "55d0c181d000-55d0c1fba000 r-xp 0001d000 08:01 1234                       /app/minilb",
        "55d0c1fba000-55d0c2731000 r--p 007ba000 08:01 1234                       /app/minilb",
        "55d0c2731000-55d0c276b000 rw-p 00f30000 08:01 1234                       /app/minilb",
        "55d0c276b000-55d0c2c28000 rw-p 00000000 00:00 0 ",
        "7f1a2c000000-7f1a2c028000 r--p 00000000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6",
        "7f1a2c028000-7f1a2c1bd000 r-xp 00028000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6",
        "7f1a2c400000-7f1a2c401000 r--p 00000000 08:01 77                         /app/minilb-old (deleted)",
        "7ffd5e1f0000-7ffd5e211000 rw-p 00000000 00:00 0                          [stack]",
    ];

    [Test]
    public void Only_the_binarys_own_file_mappings_are_handed_back()
    {
        var mappings = StartupMemory.FileMappings(Maps, "/app/minilb").Select(m => ((long)m.Start, (ulong)m.Length));

        Assert.That(mappings, Is.EqualTo(new[]
        {
            (0x55d0c1800000L, 0x1d000UL),
            (0x55d0c181d000L, 0x79d000UL),
            (0x55d0c1fba000L, 0x777000UL),
            (0x55d0c2731000L, 0x3a000UL),
        }));
    }

    [Test]
    public void A_binary_that_is_not_mapped_gives_nothing() =>
        Assert.That(StartupMemory.FileMappings(Maps, "/usr/bin/dotnet"), Is.Empty);
}
