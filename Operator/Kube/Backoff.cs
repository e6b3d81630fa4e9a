using System.Globalization;
using System.Net;
using k8s.Autorest;

namespace MiniLb.Operator.Kube;

/// <summary>Capped exponential backoff: Initial × 2^(failures−1), at most Max, stretched by up to Jitter (a fraction) at random.</summary>
public sealed record Backoff(TimeSpan Initial, TimeSpan Max, double Jitter = 0)
{
    /// <param name="failures">Consecutive failures so far, from 1.</param>
    /// <param name="random">A number in [0, 1); 0 gives the plain exponential value.</param>
    public TimeSpan Delay(int failures, double random = 0)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var ticks = Math.Min(Initial.Ticks * Math.Pow(2, exponent), Max.Ticks);
        return TimeSpan.FromTicks((long)(ticks * (1 + Jitter * Math.Clamp(random, 0, 1))));
    }

    /// <summary>The wait a 429 TooManyRequests asks for in its Retry-After header (seconds); null for any other failure.</summary>
    public static TimeSpan? RetryAfter(Exception e) =>
        e is HttpOperationException { Response: { StatusCode: HttpStatusCode.TooManyRequests } response }
        && response.Headers.TryGetValue("Retry-After", out var values)
        && int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : null;
}
