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
    private const int MadvRandom = 1, MadvDontneed = 4, MadvPageout = 21; // <asm-generic/mman-common.h>; MADV_PAGEOUT since Linux 5.4
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
        NowAndAMomentLater(ReleasePagesSoFar);
    }

    /// <summary>
    /// Once more, when start-up's second half is over (<see cref="StartupSettle"/>): its garbage, and the shared
    /// libraries' pages it read, but not the binary's. What the second half ran — the leader's first status writes, the
    /// watch events they cause, the zones they publish, the Lease renewal, DNS answers — is what serving runs. Paged out
    /// again, it came back from disk in the first idle minute and the first burst of changes: 160–692 major page faults
    /// in the bench's 30-s idle window and 650–680 in its churn, against 67–70 and 257–262 when the binary is left
    /// alone, for the same RSS after load (docs/benchmarks.md, fifteenth session).
    /// </summary>
    public static void ReleaseSettled()
    {
        CollectAggressively();
        NowAndAMomentLater(() => PageOutIfNative(binaryToo: false));
    }

    private static void NowAndAMomentLater(Action pageOut)
    {
        pageOut();
        _ = Task.Delay(PageOutDelay).ContinueWith(_ => pageOut(), TaskScheduler.Default);
    }

    /// <summary>One blocking, compacting collection of every generation that hands free regions back to the system.</summary>
    public static void CollectAggressively() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>
    /// Hands back at once the pages of the binary and of the shared libraries start-up has read so far. Called first
    /// thing in <c>Main</c> (what the loader and the runtime touched before it) and before <c>run</c> starts its
    /// informers (the command line, the kubeconfig's YAML, hosting): the first LISTs then start from what they use,
    /// and start-up's peak does not carry the rest (measured: `run` 1k peak 37.3 -> 34.1 MiB). The kernel keeps what
    /// is in use; what a later step needs again comes back by itself. MADV_RANDOM keeps fault-around from mapping
    /// 64 KiB for each page start-up touches from here on.
    /// </summary>
    public static void ReleasePagesSoFar() => PageOutIfNative(binaryToo: true);

    private static void PageOutIfNative(bool binaryToo)
    {
        // Only the NativeAOT binary is minilb's own code; under the JIT the process image is the dotnet host.
        if (OperatingSystem.IsLinux() && !RuntimeFeature.IsDynamicCodeSupported && Environment.ProcessPath is { } binary)
            PageOut(binaryToo ? binary : null);
    }

    /// <summary>
    /// Asks the kernel to reclaim the mappings of the binary (code, read-only data and the data segment, where the
    /// type data is) and of the shared libraries: OpenSSL's, which the TLS connections to the API server load and
    /// whose start (configuration, certificates, the handshakes) reads 4 MiB of them, and libc's. Only pages that are
    /// still the file's are reclaimed for good; a data page the program wrote is its own copy, which the kernel keeps
    /// (or, where the node has swap, may write there as it would any idle page). A library page other processes map
    /// too stays in memory for them; this process lets go of its mapping of it where the mapping is read-only and
    /// holds no page of its own (<see cref="Advice"/>), and maps it again, from memory, if it uses it. MADV_RANDOM
    /// first: a page used again is then read alone, not with the 128 KiB the kernel would read around it, so what
    /// comes back is what serving uses. A kernel without MADV_PAGEOUT (before 5.4) or one that refuses it leaves the
    /// pages as they are.
    /// </summary>
    private static void PageOut(string? binary)
    {
        try
        {
            // All of smaps is read first: advising while still reading would page out the very code that reads it,
            // which then faulted back in once for each of the binary's mappings (measured: half of the major faults
            // of start-up's second page-out were in the smaps parsing).
            foreach (var mapping in Mappings(File.ReadAllLines("/proc/self/smaps")).ToList())
            {
                var advice = Advice(mapping, binary);
                if (advice == PageAdvice.Keep)
                    continue;
                _ = Madvise(mapping.Start, mapping.Length, MadvRandom);
                _ = Madvise(mapping.Start, mapping.Length, MadvPageout);
                if (advice == PageAdvice.PageOutAndLetGo)
                    _ = Madvise(mapping.Start, mapping.Length, MadvDontneed);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No /proc, or not readable: nothing to give back (it runs first thing in Main, so it must not throw).
        }
    }

    internal enum PageAdvice { Keep, PageOut, PageOutAndLetGo }

    /// <summary>
    /// What start-up's end does with a mapping: the binary's and the shared libraries' are paged out; a library's
    /// read-only mapping that holds no page of this process's own (<c>Anonymous: 0</c>; the loader's relocated data is
    /// read-only too, but written) is also let go of, since MADV_DONTNEED on it only drops this process's view of the
    /// file. Anything else (the heap, stacks, other files, a writable or written mapping) is kept as it is.
    /// </summary>
    /// <param name="binary">The binary's path; null when only the libraries are handed back.</param>
    internal static PageAdvice Advice(Mapping mapping, string? binary)
    {
        if (mapping.Path == binary)
            return PageAdvice.PageOut;
        if (!IsSharedLibrary(mapping.Path))
            return PageAdvice.Keep;
        return mapping.Permissions.Contains('w') || mapping.AnonymousKiB != 0 ? PageAdvice.PageOut : PageAdvice.PageOutAndLetGo;
    }

    /// <summary>A file the loader mapped as a shared library: <c>/usr/lib/x86_64-linux-gnu/libssl.so.3</c>, <c>libc.so.6</c>.</summary>
    internal static bool IsSharedLibrary(string path) =>
        path.StartsWith('/') && System.IO.Path.GetFileName(path) is var name && (name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal));

    /// <summary>One mapping of /proc/PID/smaps: where it is, its permissions, its file, and its anonymous (written) KiB.</summary>
    internal readonly record struct Mapping(nint Start, nuint Length, string Permissions, string Path, long AnonymousKiB);

    /// <summary>The mappings in /proc/PID/smaps lines (a header line per mapping, then its fields).</summary>
    internal static IEnumerable<Mapping> Mappings(IEnumerable<string> smaps)
    {
        Mapping? current = null;
        foreach (var line in smaps)
        {
            if (line.StartsWith("Anonymous:", StringComparison.Ordinal) && current is { } mapping)
            {
                // Unreadable counts as written: such a mapping is only paged out, never let go of.
                current = mapping with
                {
                    AnonymousKiB = long.TryParse(line.AsSpan(10).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib : long.MaxValue,
                };
                continue;
            }
            if (Header(line) is not { } next)
                continue;
            if (current is { } done)
                yield return done;
            current = next;
        }
        if (current is { } last)
            yield return last;
    }

    /// <summary>A maps line (<c>55d0c1a00000-55d0c2200000 r-xp 0001d000 08:01 1234   /path/to/minilb</c>), or null for a field line.</summary>
    private static Mapping? Header(string line)
    {
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        var dash = fields.Length < 5 ? -1 : fields[0].IndexOf('-');
        if (dash <= 0)
            return null;
        if (!ulong.TryParse(fields[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
            || !ulong.TryParse(fields[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end))
            return null;
        return new Mapping((nint)start, (nuint)(end - start), fields[1], fields.Length == 6 ? fields[5].Trim() : "", 0);
    }

    // DllImport, not LibraryImport: the generated marshalling needs unsafe code, which the project does not allow.
    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(nint start, nuint length, int advice);
}
