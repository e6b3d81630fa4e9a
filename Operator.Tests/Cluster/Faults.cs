using Microsoft.AspNetCore.Http;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>How the server behaves during an outage.</summary>
public enum OutageMode
{
    /// <summary>The listener is closed: connections are refused until it opens again on the same port.</summary>
    Refuse,
    /// <summary>Connections are accepted but requests are held without an answer until the outage ends.</summary>
    Hang,
}

/// <summary>
/// Faults applied to each request: failed or throttled requests, hanging outages, latency. Closing watches,
/// compacting the history and refusing connections live on <see cref="TestApiServer"/>, which owns the store and listener.
/// </summary>
public sealed class Faults(TimeProvider time)
{
    private readonly Lock _gate = new();
    private int _failures;
    private int _failureCode = 500;
    private int _retryAfterSeconds;
    private Func<HttpRequest, bool> _matching = _ => true;
    private DateTimeOffset _hangEnds = DateTimeOffset.MinValue;

    /// <summary>Added before every answer.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>
    /// The next <paramref name="count"/> requests (those <paramref name="matching"/>, e.g. only PATCHes of a status)
    /// fail with <paramref name="code"/> (500 InternalError by default).
    /// </summary>
    public void FailNext(int count, int code = 500, Func<HttpRequest, bool>? matching = null)
    {
        lock (_gate) (_failures, _failureCode, _retryAfterSeconds, _matching) = (count, code, 0, matching ?? (_ => true));
    }

    /// <summary>The next <paramref name="count"/> requests (those <paramref name="matching"/>) get 429 TooManyRequests with a Retry-After header.</summary>
    public void ThrottleNext(int count, int retryAfterSeconds = 1, Func<HttpRequest, bool>? matching = null)
    {
        lock (_gate) (_failures, _failureCode, _retryAfterSeconds, _matching) = (count, 429, retryAfterSeconds, matching ?? (_ => true));
    }

    /// <summary>Requests arriving in the next <paramref name="duration"/> wait, unanswered, until it has passed.</summary>
    public void Hang(TimeSpan duration)
    {
        lock (_gate) _hangEnds = time.GetUtcNow() + duration;
    }

    public void Clear()
    {
        lock (_gate) (_failures, _hangEnds) = (0, DateTimeOffset.MinValue);
        Latency = TimeSpan.Zero;
    }

    /// <summary>Applies the faults to one request; true when the request has been answered (or dropped) here.</summary>
    public async Task<bool> InterceptAsync(HttpContext context)
    {
        if (Latency > TimeSpan.Zero) await Task.Delay(Latency, time, context.RequestAborted);
        DateTimeOffset hangEnds;
        lock (_gate) hangEnds = _hangEnds;
        if (time.GetUtcNow() < hangEnds) await Task.Delay(hangEnds - time.GetUtcNow(), time, context.RequestAborted);
        ApiError? failure = null;
        lock (_gate)
        {
            if (_failures > 0 && _matching(context.Request))
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
