using System.Net;
using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

/// <summary>Response-rate limiting per client prefix (BIND-style RRL), with a fake clock.</summary>
public class ResponseRateLimiterTests
{
    private readonly FakeTimeProvider time = new();

    private static Dictionary<RateLimitVerdict, int> Ask(ResponseRateLimiter limiter, string client, int times)
    {
        var verdicts = Enum.GetValues<RateLimitVerdict>().ToDictionary(v => v, _ => 0);
        for (var i = 0; i < times; i++)
            verdicts[limiter.Check(IPAddress.Parse(client))]++;
        return verdicts;
    }

    [Test]
    public void Up_to_one_second_of_queries_is_answered_at_once_then_the_rest_are_dropped_or_slipped()
    {
        var limiter = new ResponseRateLimiter(new RateLimit(QueriesPerSecond: 10, Slip: 2), time);

        var verdicts = Ask(limiter, "192.0.2.7", 30);

        Assert.That(verdicts[RateLimitVerdict.Answer], Is.EqualTo(10));
        Assert.That(verdicts[RateLimitVerdict.Slip], Is.EqualTo(10), "every 2nd query over the limit gets TC=1");
        Assert.That(verdicts[RateLimitVerdict.Drop], Is.EqualTo(10));
        Assert.That((limiter.Slipped, limiter.Dropped), Is.EqualTo((10L, 10L)));
    }

    [Test]
    public void Answers_come_back_at_the_configured_rate()
    {
        var limiter = new ResponseRateLimiter(new RateLimit(100, Slip: 0), time);
        Ask(limiter, "192.0.2.7", 500);

        var answered = 0;
        for (var tick = 0; tick < 100; tick++)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            answered += Ask(limiter, "192.0.2.7", 20)[RateLimitVerdict.Answer];
        }

        // 5 s at 100/s, asked 400/s.
        Assert.That(answered, Is.InRange(495, 505));
    }

    [Test]
    public void A_quiet_client_gets_its_full_burst_back_but_no_more()
    {
        var limiter = new ResponseRateLimiter(new RateLimit(20), time);
        Ask(limiter, "192.0.2.7", 100);

        time.Advance(TimeSpan.FromMinutes(5));

        Assert.That(Ask(limiter, "192.0.2.7", 100)[RateLimitVerdict.Answer], Is.EqualTo(20));
    }

    [Test]
    public void Slip_zero_never_sends_TC_and_slip_one_always_does()
    {
        var never = new ResponseRateLimiter(new RateLimit(5, Slip: 0), time);
        var always = new ResponseRateLimiter(new RateLimit(5, Slip: 1), time);

        Assert.That(Ask(never, "192.0.2.7", 50)[RateLimitVerdict.Slip], Is.Zero);
        Assert.That(Ask(always, "192.0.2.7", 50)[RateLimitVerdict.Slip], Is.EqualTo(45));
    }

    [TestCase("192.0.2.1", "192.0.2.254", true)]
    [TestCase("192.0.2.1", "192.0.3.1", false)]
    [TestCase("192.0.2.1", "::ffff:192.0.2.99", true)]
    [TestCase("2001:db8:0:ab00::1", "2001:db8:0:abff:ffff::9", true)]
    [TestCase("2001:db8:0:ab00::1", "2001:db8:0:ac00::1", false)]
    [TestCase("0.0.0.1", "::1", false)]
    public void Clients_in_one_prefix_share_a_limit(string first, string second, bool shared)
    {
        var limiter = new ResponseRateLimiter(new RateLimit(10), time);
        Ask(limiter, first, 10);

        var answered = Ask(limiter, second, 10)[RateLimitVerdict.Answer];

        Assert.That(answered, Is.EqualTo(shared ? 0 : 10), shared ? "same /24 or /56: the budget is used up" : "another prefix has its own budget");
    }

    [Test]
    public void A_flood_from_many_prefixes_never_limits_a_client_below_its_rate()
    {
        var limiter = new ResponseRateLimiter(new RateLimit(5), time);
        var victim = 0;
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 5000; i++)
                limiter.Check(new IPAddress([10, (byte)(i >> 8), (byte)i, 1]));
            victim += Ask(limiter, "192.0.2.7", 5)[RateLimitVerdict.Answer];
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.That(victim, Is.EqualTo(100));
    }

    [TestCase(0, 2, "positive")]
    [TestCase(-3, 2, "positive")]
    [TestCase(10, -1, "slip")]
    public void Bad_settings_are_refused_with_a_reason(int qps, int slip, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => new ResponseRateLimiter(new RateLimit(qps, slip), time));

        Assert.That(error!.Message, Does.Contain(reason));
    }
}
