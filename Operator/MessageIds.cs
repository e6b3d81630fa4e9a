using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Security;

namespace MiniLb.Operator;

/// <summary>
/// Random DNS message IDs from the kernel (<c>getrandom(2)</c>), without OpenSSL. An ID minilb sends and matches an
/// answer by (NOTIFY, a forwarded query) must not be guessable by an off-path sender (RFC 5452 §9.2), so
/// <see cref="Random.Shared"/> will not do; but on Linux .NET's <see cref="RandomNumberGenerator"/> is OpenSSL's
/// <c>RAND_bytes</c>, and its first use maps libcrypto and libssl: 3.7 MiB of RSS plus their heap in <c>serve</c>,
/// which needs no cryptography (docs/benchmarks.md, "Where the time and the memory go").
/// </summary>
internal static class MessageIds
{
    // One system call per 64 messages (ARSoft draws 4 bytes each), not one per message: the slow path builds two
    // (the parsed query and its response) and a getrandom call took 1.2 µs here (glibc 2.36 does not use the
    // kernel's vDSO getrandom), more than building both; from the pool a DnsMessage costs ~0.1 µs.
    private const int PoolSize = 256;
    private const int EINTR = 4;

    private static bool withoutGetRandom = !OperatingSystem.IsLinux();

    [ThreadStatic] private static byte[]? pool;
    [ThreadStatic] private static int drawn;

    /// <summary>A random ID for a message minilb sends and matches the answer to.</summary>
    public static ushort Next()
    {
        Span<byte> id = stackalloc byte[2];
        Fill(id);
        return BinaryPrimitives.ReadUInt16BigEndian(id);
    }

    /// <summary>Fills <paramref name="buffer"/> with random bytes from the kernel (through a small per-thread pool).</summary>
    public static void Fill(Span<byte> buffer)
    {
        if (buffer.Length > PoolSize)
        {
            FromKernel(buffer);
            return;
        }
        if (pool is null)
            (pool, drawn) = (new byte[PoolSize], PoolSize);
        if (PoolSize - drawn < buffer.Length)
        {
            FromKernel(pool);
            drawn = 0;
        }
        var bytes = pool.AsSpan(drawn, buffer.Length);
        bytes.CopyTo(buffer);
        bytes.Clear(); // handed out once: what stays in the pool is only what no one has seen
        drawn += buffer.Length;
    }

    /// <summary>
    /// ARSoft draws a random transaction ID in every <see cref="DnsMessageBase"/> constructor, parsed queries and
    /// responses too (whose IDs it then overwrites), from a static BouncyCastle <see cref="SecureRandom"/> over
    /// .NET's <see cref="RandomNumberGenerator"/>: the first slow-path query loaded OpenSSL. From here on it draws
    /// from the kernel. Once, at start-up, before any message is built.
    /// </summary>
    public static void UseForArSoft() => ArSoftRandom(null) = new SecureRandom(new KernelRandom());

    /// <summary>What ARSoft 3.6.1 draws message IDs from (private static readonly; set once, before any message).</summary>
    [UnsafeAccessor(UnsafeAccessorKind.StaticField, Name = "_secureRandom")]
    internal static extern ref SecureRandom ArSoftRandom(DnsMessageBase? type);

    private static void FromKernel(Span<byte> buffer)
    {
        while (!buffer.IsEmpty && !withoutGetRandom)
        {
            var read = GetRandom(ref MemoryMarshal.GetReference(buffer), (nuint)buffer.Length, 0);
            if (read > 0)
                buffer = buffer[(int)read..];
            else if (Marshal.GetLastPInvokeError() != EINTR)
                withoutGetRandom = true; // ENOSYS, or EPERM from a seccomp profile that does not know it
        }
        // Sound IDs matter more than OpenSSL's pages: where getrandom is missing, .NET's generator (OpenSSL on Linux).
        if (!buffer.IsEmpty)
            RandomNumberGenerator.Fill(buffer);
    }

    // DllImport, not LibraryImport: the generated marshalling needs unsafe code, which the project does not allow.
    // getrandom(2) has been in Linux since 3.17 and glibc since 2.25; flags 0: the urandom source, blocking only
    // until the kernel's pool is first initialised at boot.
    [DllImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static extern nint GetRandom(ref byte buffer, nuint length, uint flags);

    /// <summary>BouncyCastle's view of <see cref="Fill"/>: seed material is not needed, the kernel keeps its own.</summary>
    private sealed class KernelRandom : IRandomGenerator
    {
        public void AddSeedMaterial(byte[] seed) { }
        public void AddSeedMaterial(ReadOnlySpan<byte> seed) { }
        public void AddSeedMaterial(long seed) { }
        public void NextBytes(byte[] bytes) => Fill(bytes);
        public void NextBytes(byte[] bytes, int start, int len) => Fill(bytes.AsSpan(start, len));
        public void NextBytes(Span<byte> bytes) => Fill(bytes);
    }
}
