using System.Buffers.Binary;
using System.Text;
using MiniLb.Operator.Tests.EndToEnd;

namespace MiniLb.Operator.Tests;

/// <summary>
/// Which mappings the end of start-up hands back: the binary's code, read-only data and data segment (its type data)
/// and the shared libraries' (OpenSSL, libc), not the anonymous memory after the binary, nothing of other files.
/// </summary>
public sealed class StartupMemoryTests
{
    // /proc/self/smaps as the kernel writes it, reduced to the header line and the Anonymous field of each mapping.
    private static readonly string[] Smaps =
    [
        "55d0c1800000-55d0c181d000 r--p 00000000 08:01 1234                       /app/minilb", "Rss:  116 kB", "Anonymous:  0 kB",
        "55d0c181d000-55d0c1fba000 r-xp 0001d000 08:01 1234                       /app/minilb", "Anonymous:  0 kB",
        "55d0c1fba000-55d0c2731000 r--p 007ba000 08:01 1234                       /app/minilb", "Anonymous:  0 kB",
        "55d0c2731000-55d0c276b000 rw-p 00f30000 08:01 1234                       /app/minilb", "Anonymous:  212 kB",
        "55d0c276b000-55d0c2c28000 rw-p 00000000 00:00 0 ", "Anonymous:  4852 kB",
        "7f1a2c000000-7f1a2c028000 r--p 00000000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6", "Anonymous:  0 kB",
        "7f1a2c028000-7f1a2c1bd000 r-xp 00028000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6", "Anonymous:  0 kB", "VmFlags: rd ex mr mw me sd",
        "7f1a2c1bd000-7f1a2c1c1000 r--p 001bc000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6", "Anonymous:  16 kB",
        "7f1a2c1c1000-7f1a2c1c3000 rw-p 001c0000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6", "Anonymous:  8 kB",
        "7f1a2c300000-7f1a2c3a0000 r-xp 00000000 08:01 98                         /usr/lib/x86_64-linux-gnu/libssl.so", "Anonymous:  0 kB",
        "7f1a2c3a0000-7f1a2c3a1000 r--p 000a0000 08:01 98                         /usr/lib/x86_64-linux-gnu/libssl.so", "Anonymous:  garbled",
        "7f1a2c3b0000-7f1a2c3c0000 r--p 00000000 08:01 97                         /usr/lib/locale/C.utf8/LC_CTYPE", "Anonymous:  0 kB",
        "7f1a2c400000-7f1a2c401000 r--p 00000000 08:01 77                         /app/minilb-old (deleted)", "Anonymous:  0 kB",
        "7ffd5e1f0000-7ffd5e211000 rw-p 00000000 00:00 0                          [stack]", "Anonymous:  132 kB",
    ];

    [Test]
    public void The_binary_and_the_shared_libraries_are_handed_back_and_nothing_else()
    {
        var advice = StartupMemory.Mappings(Smaps).Select(m => ((long)m.Start, (ulong)m.Length, StartupMemory.Advice(m, "/app/minilb")));

        Assert.That(advice, Is.EqualTo(new[]
        {
            (0x55d0c1800000L, 0x1d000UL, StartupMemory.PageAdvice.PageOut),
            (0x55d0c181d000L, 0x79d000UL, StartupMemory.PageAdvice.PageOut),
            (0x55d0c1fba000L, 0x777000UL, StartupMemory.PageAdvice.PageOut),
            (0x55d0c2731000L, 0x3a000UL, StartupMemory.PageAdvice.PageOut),
            (0x55d0c276b000L, 0x4bd000UL, StartupMemory.PageAdvice.Keep), // the heap after the binary
            (0x7f1a2c000000L, 0x28000UL, StartupMemory.PageAdvice.PageOutAndLetGo),
            (0x7f1a2c028000L, 0x195000UL, StartupMemory.PageAdvice.PageOutAndLetGo),
            (0x7f1a2c1bd000L, 0x4000UL, StartupMemory.PageAdvice.PageOut), // read-only now, but relocated by the loader: written
            (0x7f1a2c1c1000L, 0x2000UL, StartupMemory.PageAdvice.PageOut), // writable
            (0x7f1a2c300000L, 0xa0000UL, StartupMemory.PageAdvice.PageOutAndLetGo),
            (0x7f1a2c3a0000L, 0x1000UL, StartupMemory.PageAdvice.PageOut), // a count that cannot be read counts as written
            (0x7f1a2c3b0000L, 0x10000UL, StartupMemory.PageAdvice.Keep), // a data file, not a library
            (0x7f1a2c400000L, 0x1000UL, StartupMemory.PageAdvice.Keep), // another file
            (0x7ffd5e1f0000L, 0x21000UL, StartupMemory.PageAdvice.Keep),
        }));
    }

    [Test]
    public void The_settled_release_hands_back_the_libraries_and_leaves_the_binary() =>
        Assert.That(StartupMemory.Mappings(Smaps).Where(m => StartupMemory.Advice(m, binary: null) != StartupMemory.PageAdvice.Keep).Select(m => m.Path).Distinct(),
            Is.EqualTo(new[] { "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libssl.so" }));

    [Test]
    public void A_binary_that_is_not_mapped_gives_only_the_libraries() =>
        Assert.That(StartupMemory.Mappings(Smaps).Where(m => StartupMemory.Advice(m, "/usr/bin/dotnet") != StartupMemory.PageAdvice.Keep).Select(m => m.Path).Distinct(),
            Is.EqualTo(new[] { "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libssl.so" }));

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

    /// <summary>
    /// The code serving uses sits together at the start of the managed code, in the order Operator/code-order.txt
    /// names it, instead of spread over the binary by namespace and type (where the kernel's fault-around kept 6.8
    /// MiB of code resident for under 3 MiB used). Read from the symbols of the published binary (minilb.dbg).
    /// </summary>
    [Test]
    public void The_published_binary_lays_out_its_methods_in_the_profiled_order()
    {
        var binary = AotBinary.Locate();
        if (!File.Exists(binary + ".dbg"))
            Assert.Ignore($"{binary}.dbg, the published binary's symbols, is absent (built with StripSymbols=false?)");
        var listed = File.ReadLines(AotBinary.RepositoryFile(Path.Combine("Operator", "code-order.txt")))
            .Where(line => line.Length > 0 && line[0] != '#').Take(500).ToList();
        var symbols = CodeSymbols(File.ReadAllBytes(binary + ".dbg"));
        var start = symbols["__start___managedcode"];
        var size = symbols["__stop___managedcode"] - start;

        // Identical method bodies are folded into one, so a listed name may have no symbol of its own; a method
        // exported under a fixed name (the runtime's ThreadEntryPoint) keeps its own place.
        var addresses = listed.Where(symbols.ContainsKey).Select(name => symbols[name]).ToList();
        Assert.That(addresses, Has.Count.GreaterThan(listed.Count / 2), "most listed methods are in the binary");
        Assert.That(addresses.Zip(addresses.Skip(1)).Count(pair => pair.Second < pair.First), Is.LessThan(addresses.Count / 50),
            "in the listed order");
        Assert.That(addresses.Count(address => address - start < size / 20), Is.GreaterThan(addresses.Count * 49 / 50),
            "at the start of the managed code");
    }

    /// <summary>The functions in the symbol table of a 64-bit little-endian ELF file: name → address.</summary>
    private static Dictionary<string, ulong> CodeSymbols(byte[] elf)
    {
        var sections = Sections(elf);
        var symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var table in sections.Where(section => section.Type == 2)) // SHT_SYMTAB
        {
            var strings = sections[table.Link].Offset;
            for (var entry = table.Offset; entry < table.Offset + table.Size; entry += 24)
            {
                var symbol = elf.AsSpan(entry, 24);
                if ((symbol[4] & 0xf) is not (0 or 2)) // STT_NOTYPE (section markers) or STT_FUNC
                    continue;
                symbols.TryAdd(CString(elf, strings + (int)BinaryPrimitives.ReadUInt32LittleEndian(symbol)),
                    BinaryPrimitives.ReadUInt64LittleEndian(symbol[8..]));
            }
        }
        return symbols;
    }

    /// <summary>The section names of a 64-bit little-endian ELF file.</summary>
    private static List<string> SectionNames(byte[] elf)
    {
        var sections = Sections(elf);
        var names = sections[BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3e))].Offset; // e_shstrndx
        return sections.Select(section => CString(elf, names + section.Name)).ToList();
    }

    private readonly record struct Section(int Name, uint Type, int Offset, int Size, int Link);

    /// <summary>The section headers of a 64-bit little-endian ELF file.</summary>
    private static List<Section> Sections(byte[] elf)
    {
        var headers = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        var size = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3a));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3c));
        return Enumerable.Range(0, count).Select(i =>
        {
            var header = elf.AsSpan(headers + i * size);
            return new Section((int)BinaryPrimitives.ReadUInt32LittleEndian(header), BinaryPrimitives.ReadUInt32LittleEndian(header[4..]),
                (int)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]), (int)BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]));
        }).ToList();
    }

    private static string CString(byte[] bytes, int offset)
    {
        var text = bytes.AsSpan(offset);
        return Encoding.ASCII.GetString(text[..text.IndexOf((byte)0)]);
    }
}
