using Microsoft.AspNetCore.Http;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>How the server behaves during an outage.</summary>
public enum OutageMode
{
    /// <summary>Each connection is reset as soon as a request arrives: clients see a transport error, as if refused.</summary>
    Refuse,
    /// <summary>Requests are held without an answer until the outage ends (or the client gives up).</summary>
    Hang,
}

/// <summary>
/// Faults a test injects: failed or throttled requests, outages, latency. Closing watches and compacting the
/// history live on <see cref="TestApiServer"/>, which owns the store.
/// </summary>
public sealed class Faults(TimeProvider time)
{
    private readonly Lock _gate = new();
    private int _failures;
    private int _failureCode = 500;
    private int _retryAfterSeconds;
    private DateTimeOffset _outageEnds = DateTimeOffset.MinValue;
    private OutageMode _outageMode;

    /// <summary>Added before every answer.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Raised when an outage starts, so that open watches can be dropped with it.</summary>
    public event Action? OutageStarted;

    /// <summary>The next <paramref name="count"/> requests fail with <paramref name="code"/> (500 InternalError by default).</summary>
    public void FailNext(int count, int code = 500)
    {
        lock (_gate) (_failures, _failureCode, _retryAfterSeconds) = (count, code, 0);
    }

    /// <summary>The next <paramref name="count"/> requests get 429 TooManyRequests with a Retry-After header.</summary>
    public void ThrottleNext(int count, int retryAfterSeconds = 1)
    {
        lock (_gate) (_failures, _failureCode, _retryAfterSeconds) = (count, 429, retryAfterSeconds);
    }

    public void Outage(TimeSpan duration, OutageMode mode = OutageMode.Refuse)
    {
        lock (_gate) (_outageEnds, _outageMode) = (time.GetUtcNow() + duration, mode);
        OutageStarted?.Invoke();
    }

    public void Clear()
    {
        lock (_gate) (_failures, _outageEnds) = (0, DateTimeOffset.MinValue);
        Latency = TimeSpan.Zero;
    }

    /// <summary>Applies the faults to one request; true when the request has been answered (or dropped) here.</summary>
    public async Task<bool> InterceptAsync(HttpContext context)
    {
        if (Latency > TimeSpan.Zero) await Task.Delay(Latency, time, context.RequestAborted);
        DateTimeOffset outageEnds;
        OutageMode mode;
        lock (_gate) (outageEnds, mode) = (_outageEnds, _outageMode);
        if (time.GetUtcNow() < outageEnds)
        {
            if (mode == OutageMode.Refuse)
            {
                context.Abort();
                return true;
            }
            await Task.Delay(outageEnds - time.GetUtcNow(), time, context.RequestAborted);
        }
        ApiError? failure = null;
        lock (_gate)
        {
            if (_failures > 0)
            {
                _failures--;
                failure = _failureCode == 429
                    ? new ApiError(429, "TooManyRequests", "the server has received too many requests and has asked us to try again later") { RetryAfterSeconds = _retryAfterSeconds }
                    : new ApiError(_failureCode, _failureCode == 500 ? "InternalError" : "ServiceUnavailable", "an error on the server (\"injected fault\") has prevented the request from succeeding");
            }
        }
        if (failure is null) return false;
        if (failure.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await HttpAnswers.WriteStatusAsync(context, failure);
        return true;
    }
}
