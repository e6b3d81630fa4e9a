using Microsoft.AspNetCore.Http;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>How the server behaves during an outage.</summary>
public enum OutageMode
{
    /// <summary>
    /// The API listener is closed until it opens again on the same port. Meanwhile a stand-in accepts each connection
    /// and resets it at once, before any HTTP, so that the attempts can be counted (<see cref="Faults.RefusedInOutage"/>).
    /// </summary>
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
    private Func<HttpRequest, bool>? _holding;
    private readonly List<HeldRequest> _held = [];
    private long _refusedInOutage;
    private long _heldInOutage;

    /// <summary>Connections refused during <see cref="OutageMode.Refuse"/> outages: each one is a request that failed.</summary>
    public long RefusedInOutage => Interlocked.Read(ref _refusedInOutage);

    /// <summary>Requests that arrived during <see cref="OutageMode.Hang"/> outages and were held until the end.</summary>
    public long HeldInOutage => Interlocked.Read(ref _heldInOutage);

    /// <summary>Every request made during outages so far, in either mode.</summary>
    public long RequestsInOutage => RefusedInOutage + HeldInOutage;

    internal void CountRefused() => Interlocked.Increment(ref _refusedInOutage);

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

    /// <summary>
    /// Requests <paramref name="matching"/> from now on stay in flight: unanswered and not applied, until
    /// <see cref="ReleaseHeld"/>. One whose client goes away meanwhile (a crashed caller) is never applied.
    /// </summary>
    public void Hold(Func<HttpRequest, bool> matching)
    {
        lock (_gate) _holding = matching;
    }

    /// <summary>New requests pass again; those already held stay held.</summary>
    public void StopHolding()
    {
        lock (_gate) _holding = null;
    }

    /// <summary>The held requests go on to be applied, unless their client has gone.</summary>
    public void ReleaseHeld()
    {
        lock (_gate) foreach (var held in _held) held.Release.TrySetResult();
    }

    /// <summary>Every request held so far, with its body and what became of it.</summary>
    public IReadOnlyList<HeldRequest> Held
    {
        get { lock (_gate) return [.. _held]; }
    }

    public void Clear()
    {
        lock (_gate) (_failures, _hangEnds, _holding) = (0, DateTimeOffset.MinValue, null);
        Latency = TimeSpan.Zero;
        ReleaseHeld();
    }

    /// <summary>Applies the faults to one request; true when the request has been answered (or dropped) here.</summary>
    public async Task<bool> InterceptAsync(HttpContext context)
    {
        await HoldAsync(context);
        if (Latency > TimeSpan.Zero) await Task.Delay(Latency, time, context.RequestAborted);
        DateTimeOffset hangEnds;
        lock (_gate) hangEnds = _hangEnds;
        if (time.GetUtcNow() < hangEnds)
        {
            Interlocked.Increment(ref _heldInOutage);
            await Task.Delay(hangEnds - time.GetUtcNow(), time, context.RequestAborted);
        }
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

    private async Task HoldAsync(HttpContext context)
    {
        lock (_gate)
            if (_holding is null || !_holding(context.Request)) return;
        context.Request.EnableBuffering();
        using var reader = new StreamReader(context.Request.Body, leaveOpen: true);
        var held = new HeldRequest(context.Request.Method, context.Request.Path.Value ?? "", await reader.ReadToEndAsync(context.RequestAborted));
        context.Request.Body.Position = 0;
        lock (_gate) _held.Add(held);
        try
        {
            await held.Release.Task.WaitAsync(context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            held.Abandoned = true;
            throw;
        }
    }
}

/// <summary>A request <see cref="Faults.Hold"/> kept in flight.</summary>
public sealed record HeldRequest(string Method, string Path, string Body)
{
    internal TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Its client went away while it was held, so it was never applied.</summary>
    public bool Abandoned { get; set; }
}
