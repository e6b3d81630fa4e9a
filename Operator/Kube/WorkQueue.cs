namespace MiniLb.Operator.Kube;

/// <summary>
/// A work queue with client-go's semantics: a key waiting twice is processed once; a key is never handed to two
/// workers at once; a key added while it is being processed is handed out again after <see cref="Done"/>; failed keys
/// come back after a capped exponential delay (<see cref="AddRateLimited"/>) until <see cref="Forget"/>. Unlike
/// client-go's, a key waits for one delay at most, the earliest, and an immediate add replaces it.
/// </summary>
public sealed class WorkQueue<TKey> : IDisposable where TKey : notnull
{
    private readonly Lock gate = new();
    private readonly Queue<TKey> queue = new();
    private readonly HashSet<TKey> dirty = [];
    private readonly HashSet<TKey> processing = [];
    private readonly Dictionary<TKey, Waiting> waiting = [];
    private readonly Dictionary<TKey, int> failures = [];
    private readonly SemaphoreSlim ready = new(0);
    private readonly TimeProvider time;
    private readonly Backoff retry;
    private bool shuttingDown;

    public WorkQueue(TimeProvider? time = null, Backoff? retry = null)
    {
        this.time = time ?? TimeProvider.System;
        this.retry = retry ?? new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
    }

    /// <summary>Keys ready to be taken.</summary>
    public int Count
    {
        get
        {
            lock (gate)
                return queue.Count;
        }
    }

    /// <summary>Nothing queued and nothing in hand; keys waiting for a delay (<see cref="AddAfter"/>, retries) are not counted.</summary>
    public bool IsIdle
    {
        get
        {
            lock (gate)
                return queue.Count == 0 && processing.Count == 0;
        }
    }

    public bool IsShuttingDown
    {
        get
        {
            lock (gate)
                return shuttingDown;
        }
    }

    /// <summary>
    /// Queues the key now. A delayed add of it still waiting (<see cref="AddAfter"/>, a retry) is dropped: the earliest
    /// wins, as among delays, and the processing this add brings reads the state the delayed one was for. A publish
    /// that asks for a status write in 5 s and is followed by an immediate reconcile so costs one reconcile, not two.
    /// </summary>
    public void Add(TKey key)
    {
        lock (gate)
        {
            if (shuttingDown)
                return;
            if (waiting.Remove(key, out var pending))
                pending.Timer.Dispose();
            if (!dirty.Add(key) || processing.Contains(key))
                return;
            queue.Enqueue(key);
        }
        ready.Release();
    }

    /// <summary>Adds the key once <paramref name="delay"/> has passed; of several pending delays the earliest wins.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }
        lock (gate)
        {
            if (shuttingDown)
                return;
            var due = time.GetUtcNow() + delay;
            if (waiting.TryGetValue(key, out var pending))
            {
                if (pending.Due <= due)
                    return;
                pending.Timer.Dispose();
            }
            var entry = new Waiting(due);
            waiting[key] = entry;
            entry.Timer = time.CreateTimer(_ => Fire(key, entry), null, delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Adds the key after a delay that doubles with each failure since the last <see cref="Forget"/>.</summary>
    /// <param name="atLeast">A wait the server asked for (Retry-After), when longer than the backoff.</param>
    public void AddRateLimited(TKey key, TimeSpan? atLeast = null)
    {
        int count;
        lock (gate)
            failures[key] = count = failures.GetValueOrDefault(key) + 1;
        var delay = retry.Delay(count);
        AddAfter(key, atLeast > delay ? atLeast.Value : delay);
    }

    /// <summary>Clears the key's failure count (call it after a success).</summary>
    public void Forget(TKey key)
    {
        lock (gate)
            failures.Remove(key);
    }

    public int Failures(TKey key)
    {
        lock (gate)
            return failures.GetValueOrDefault(key);
    }

    /// <summary>Waits for a key. Returns false once the queue is shut down and drained.</summary>
    public async Task<(bool Ok, TKey Key)> TakeAsync(CancellationToken ct)
    {
        await ready.WaitAsync(ct);
        lock (gate)
        {
            if (queue.Count == 0)
            {
                // Only a shutdown releases without a key: pass the wake-up on to the next waiter.
                ready.Release();
                return (false, default!);
            }
            var key = queue.Dequeue();
            processing.Add(key);
            dirty.Remove(key);
            return (true, key);
        }
    }

    /// <summary>Marks the key's processing finished; if it was added meanwhile it is queued again.</summary>
    public void Done(TKey key)
    {
        lock (gate)
        {
            processing.Remove(key);
            if (!dirty.Contains(key))
                return;
            queue.Enqueue(key);
        }
        ready.Release();
    }

    /// <summary>Stops accepting keys; takers get the keys already queued, then false.</summary>
    public void ShutDown()
    {
        lock (gate)
        {
            if (shuttingDown)
                return;
            shuttingDown = true;
            foreach (var pending in waiting.Values)
                pending.Timer.Dispose();
            waiting.Clear();
        }
        ready.Release();
    }

    public void Dispose()
    {
        ShutDown();
        ready.Dispose();
    }

    private void Fire(TKey key, Waiting entry)
    {
        lock (gate)
        {
            if (!waiting.TryGetValue(key, out var current) || current != entry)
                return;
            waiting.Remove(key);
            entry.Timer.Dispose();
        }
        Add(key);
    }

    private sealed class Waiting(DateTimeOffset due)
    {
        public DateTimeOffset Due { get; } = due;
        public ITimer Timer { get; set; } = null!;
    }
}
