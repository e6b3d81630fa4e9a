using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MiniLb.Operator.Dns;

/// <summary>Response-rate limiting over UDP, off unless configured (see <see cref="DnsHostOptions.RateLimit"/>).</summary>
/// <param name="QueriesPerSecond">Answers per second to one client prefix (/24 IPv4, /56 IPv6); one second of them may come at once.</param>
/// <param name="Slip">Over the limit, every <c>Slip</c>-th query gets an empty TC=1 reply so a real client retries over TCP; the others get nothing. 0: never.</param>
public sealed record RateLimit(int QueriesPerSecond, int Slip = 2)
{
    /// <summary>What is wrong with these values, or null.</summary>
    public string? Problem() =>
        QueriesPerSecond <= 0 ? $"the rate limit must be a positive number of queries per second, not {QueriesPerSecond}"
        : Slip < 0 ? $"the slip must be 0 (never) or a positive number, not {Slip}"
        : null;
}

/// <summary>What to do with one UDP query under response-rate limiting.</summary>
public enum RateLimitVerdict
{
    Answer,
    Drop,
    /// <summary>Reply with TC=1 and no records: cheap for us, useless to a spoofer, a TCP retry for a real client.</summary>
    Slip,
}

/// <summary>
/// Response-rate limiting in the manner of BIND's RRL: a token bucket per client prefix, so a spoofed flood naming
/// a victim as its source is not amplified towards the victim. Only UDP is limited: over TCP the source is real.
/// Pure (no I/O, time from a <see cref="TimeProvider"/>); thread-safe.
/// </summary>
/// <remarks>
/// Memory is fixed: prefixes hash into a table of buckets. A prefix that lands on a busy slot takes it over with a
/// full bucket, so a flood rotating through many prefixes can make the limit more lenient, never stricter.
/// </remarks>
public sealed class ResponseRateLimiter
{
    private const int Slots = 1 << 14;

    private readonly RateLimit limit;
    private readonly TimeProvider time;
    private readonly long ticksPerToken;
    private readonly long burstTicks;
    private readonly Bucket[] buckets = new Bucket[Slots];
    private long dropped, slipped;

    public ResponseRateLimiter(RateLimit limit, TimeProvider? time = null)
    {
        if (limit.Problem() is { } problem)
            throw new ArgumentException(problem, nameof(limit));
        this.limit = limit;
        this.time = time ?? TimeProvider.System;
        ticksPerToken = Math.Max(1, this.time.TimestampFrequency / limit.QueriesPerSecond);
        burstTicks = ticksPerToken * limit.QueriesPerSecond; // one second of answers
        for (var i = 0; i < Slots; i++)
            buckets[i] = new Bucket();
    }

    /// <summary>Queries dropped so far.</summary>
    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Queries answered with an empty TC=1 reply so far.</summary>
    public long Slipped => Interlocked.Read(ref slipped);

    public RateLimitVerdict Check(IPAddress client)
    {
        var prefix = Prefix(client);
        var bucket = buckets[(int)((ulong)prefix.GetHashCode() % Slots)];
        var now = time.GetTimestamp();
        lock (bucket)
        {
            if (bucket.Prefix != prefix)
            {
                bucket.Prefix = prefix;
                bucket.Empty = now - burstTicks;
                bucket.Limited = 0;
            }
            // GCRA: the bucket is the point in time when it was empty; each answer moves it one token forward.
            if (bucket.Empty < now - burstTicks)
                bucket.Empty = now - burstTicks;
            if (bucket.Empty + ticksPerToken <= now)
            {
                bucket.Empty += ticksPerToken;
                return RateLimitVerdict.Answer;
            }
            bucket.Limited++;
            if (limit.Slip > 0 && bucket.Limited % limit.Slip == 0)
            {
                Interlocked.Increment(ref slipped);
                return RateLimitVerdict.Slip;
            }
        }
        Interlocked.Increment(ref dropped);
        return RateLimitVerdict.Drop;
    }

    /// <summary>The client's /24 (IPv4, also when IPv4-mapped) or /56 (IPv6), tagged by family.</summary>
    internal static (bool V6, ulong Bits) Prefix(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
            client = client.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        client.TryWriteBytes(bytes, out _);
        return client.AddressFamily == AddressFamily.InterNetwork
            ? (false, BinaryPrimitives.ReadUInt32BigEndian(bytes) & 0xFFFFFF00u)
            : (true, BinaryPrimitives.ReadUInt64BigEndian(bytes) & 0xFFFFFFFFFFFFFF00ul);
    }

    private sealed class Bucket
    {
        public (bool V6, ulong Bits) Prefix = (false, ulong.MaxValue);
        public long Empty;
        public long Limited;
    }
}
