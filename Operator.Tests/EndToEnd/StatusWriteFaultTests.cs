using Microsoft.AspNetCore.Http;
using MiniLb.Operator.Tests.Controllers;

namespace MiniLb.Operator.Tests.EndToEnd;

/// <summary>
/// Issue 7: status writes that fail with 500, 429 (Retry-After) or 409 are retried until they land, once: no status
/// is lost and none is written twice. Only the status PATCHes fail; everything else the operator does goes through.
/// </summary>
public sealed class StatusWriteFaultTests : OperatorFixture
{
    /// <summary>Status PATCHes to <paramref name="path"/>: the first <paramref name="failing"/> fail, every one is timed.</summary>
    private sealed class StatusPatches(string path, int failing)
    {
        private readonly Lock gate = new();
        private readonly List<DateTime> times = [];

        public bool Matches(HttpRequest request)
        {
            if (request.Method != "PATCH" || request.Path.Value != path)
                return false;
            lock (gate)
            {
                times.Add(DateTime.UtcNow);
                return times.Count <= failing;
            }
        }

        public int Succeeded { get { lock (gate) return Math.Max(0, times.Count - failing); } }

        public DateTime[] Times { get { lock (gate) return [.. times]; } }
    }

    private void FailStatusPatches(StatusPatches patches, int code)
    {
        // The predicate sees every request while failures remain; it counts and decides which ones fail.
        if (code == 429)
            Server.Faults.ThrottleNext(int.MaxValue, retryAfterSeconds: 2, matching: patches.Matches);
        else
            Server.Faults.FailNext(int.MaxValue, code, matching: patches.Matches);
    }

    [TestCase(500)]
    [TestCase(409)]
    [TestCase(429)]
    public async Task A_Service_hostname_lands_exactly_once_after_failed_status_writes(int code)
    {
        await CreateConfigAsync();
        await StartOperatorAsync();
        var patches = new StatusPatches("/api/v1/namespaces/default/services/web/status", failing: 3);
        FailStatusPatches(patches, code);

        await CreateServiceAsync("default", "web");

        await WaitUntilAsync(async () => await HostnameOfAsync("default", "web") == "web.default.minilb", $"the hostname after three {code}s", Eventually * 3);
        await Task.Delay(TimeSpan.FromSeconds(3)); // room for a duplicate write to show
        Assert.That(patches.Succeeded, Is.EqualTo(1), "status PATCHes that went through");
        if (code == 429)
        {
            var gaps = patches.Times.Zip(patches.Times.Skip(1), (a, b) => b - a).Take(3);
            Assert.That(gaps, Has.All.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.8)), "retries wait for Retry-After (2 s)");
        }
    }

    [TestCase(500)]
    [TestCase(409)]
    [TestCase(429)]
    public async Task The_MiniLbConfig_status_converges_and_then_stays_quiet_after_failed_status_writes(int code)
    {
        var patches = new StatusPatches("/apis/minilb.io/v1alpha1/minilbconfigs/default/status", failing: 3);
        FailStatusPatches(patches, code);
        await CreateConfigAsync();
        await StartOperatorAsync();

        await WaitUntilAsync(async () => ConditionOf(await ReadConfigAsync(), "Ready")?.Status == "True", $"Ready=True after three {code}s", Eventually * 3);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var settled = patches.Succeeded;
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.That(patches.Succeeded, Is.EqualTo(settled), "no status PATCH once the status is right");
        Assert.That(settled, Is.InRange(1, 3), "status PATCHes that went through");
    }
}
