using System.Buffers.Binary;
using System.Text;
using MiniLb.Operator.Tests.EndToEnd;

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

    /// <summary>
    /// NativeAOT's default build rebuilds the type data of all 28,916 types into anonymous memory before <c>Main</c>
    /// (a <c>.hydrated</c> section): 4.8 MiB resident for good, which a page-out cannot hand back. The published
    /// binary is position-dependent with its type data as compiled (Operator.csproj), so that data is file pages
    /// the page-out above hands back.
    /// </summary>
    [Test]
    public void The_published_binary_keeps_its_type_data_as_file_pages()
    {
        var elf = File.ReadAllBytes(AotBinary.Locate());

        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(16)), Is.EqualTo(2), "e_type ET_EXEC: a position-dependent executable");
        Assert.That(SectionNames(elf), Does.Contain(".data").And.Not.Contain(".hydrated"));
    }

    /// <summary>The section names of a 64-bit little-endian ELF file.</summary>
    private static List<string> SectionNames(byte[] elf)
    {
        var headers = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        var size = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3a));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3c));
        var namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3e));
        var names = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(headers + namesIndex * size + 0x18));
        return Enumerable.Range(0, count).Select(i =>
        {
            var name = elf.AsSpan(names + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(headers + i * size)));
            return Encoding.ASCII.GetString(name[..name.IndexOf((byte)0)]);
        }).ToList();
    }
}
