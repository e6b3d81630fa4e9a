using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MiniLb.Operator;

/// <summary>
/// Gives back what start-up used and serving does not: the garbage of the initial load (snapshot or first LISTs),
/// and the pages of the binary that only start-up read. NativeAOT's start reads most of the binary once (the
/// runtime data it rehydrates, the command line, YAML/JSON reading, hosting); with the kernel's fault-around every
/// touched page maps its 64 KiB neighbourhood too, so 13.8 of the 15.4 MiB binary stayed resident although
/// <c>serve</c> under load uses about 5 MiB of it. These are clean file pages: handing them back costs a 4 KiB read
/// for each one used again, which comes back on its own (docs/benchmarks.md, "Where the time and the memory go").
/// The binary's type data is among them: it is built position-dependent and not dehydrated (Operator.csproj), so
/// the types start-up touched stay file pages of the data segment instead of a rehydrated anonymous copy.
/// </summary>
internal static class StartupMemory
{
    private const int MadvRandom = 1, MadvPageout = 21; // <asm-generic/mman-common.h>; MADV_PAGEOUT since Linux 5.4
    private static readonly TimeSpan PageOutDelay = TimeSpan.FromSeconds(1);

    /// <summary>Once, when start-up is over: the initial load is built and the server answers.</summary>
    public static void Release()
    {
        // The steady state needs the zone and caches only; the rest of the heap the GC would keep for later.
        CollectAggressively();
        // At once what is reclaimable now (read-only data, code no longer running), so the work right after start-up
        // (the leader's first status writes) does not add to it; and again a moment later, for the code pages
        // start-up used in its last milliseconds (measured: asked at once, 5.2 of 5.3 MiB of code stayed resident;
        // a second later, 1.0 MiB).
        ReleasePagesSoFar();
        _ = Task.Delay(PageOutDelay).ContinueWith(_ => ReleasePagesSoFar(), TaskScheduler.Default);
    }

    /// <summary>One blocking, compacting collection of every generation that hands free regions back to the system.</summary>
    public static void CollectAggressively() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>
    /// Hands back at once the pages of the binary start-up has read so far. Called first thing in <c>Main</c> (what
    /// the loader and the runtime touched before it) and before <c>run</c> starts its informers (the command line,
    /// the kubeconfig's YAML, hosting): the first LISTs then start from what they use, and start-up's peak does not
    /// carry the rest (measured: `run` 1k peak 37.3 -> 34.1 MiB). The kernel keeps what is in use; what a later step
    /// needs again comes back by itself. MADV_RANDOM keeps fault-around from mapping 64 KiB for each page start-up
    /// touches from here on.
    /// </summary>
    public static void ReleasePagesSoFar()
    {
        // Only the NativeAOT binary is minilb's own code; under the JIT the process image is the dotnet host.
        if (OperatingSystem.IsLinux() && !RuntimeFeature.IsDynamicCodeSupported && Environment.ProcessPath is { } binary)
            PageOut(binary);
    }

    /// <summary>
    /// Asks the kernel to reclaim the binary's mappings: code, read-only data and the data segment, where the type
    /// data is. Only pages that are still the file's are reclaimed for good; a data page the program wrote is its
    /// own copy, which the kernel keeps (or, where the node has swap, may write there as it would any idle page).
    /// MADV_RANDOM first: a page used again is then read alone, not with the 128 KiB the kernel would read around
    /// it, so what comes back is what serving uses. A kernel without MADV_PAGEOUT (before 5.4) or one that refuses
    /// it leaves the pages as they are.
    /// </summary>
    private static void PageOut(string binary)
    {
        try
        {
            foreach (var (start, length) in FileMappings(File.ReadLines("/proc/self/maps"), binary))
            {
                _ = Madvise(start, length, MadvRandom);
                _ = Madvise(start, length, MadvPageout);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No /proc, or not readable: nothing to give back (it runs first thing in Main, so it must not throw).
        }
    }

    /// <summary>The mappings of the file <paramref name="path"/> in /proc/PID/maps lines: start and length.</summary>
    internal static IEnumerable<(nint Start, nuint Length)> FileMappings(IEnumerable<string> maps, string path)
    {
        foreach (var line in maps)
        {
            // 55d0c1a00000-55d0c2200000 r-xp 0001d000 08:01 1234   /path/to/minilb
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[5].Trim() != path)
                continue;
            var range = fields[0].Split('-');
            var start = ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            yield return ((nint)start, (nuint)(end - start));
        }
    }

    // DllImport, not LibraryImport: the generated marshalling needs unsafe code, which the project does not allow.
    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(nint start, nuint length, int advice);
}
