using System.Collections.Immutable;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>An endpoint is kept packed; what it reads back must be what the EndpointSlice said.</summary>
public class EndpointViewTests
{
    [TestCase("10.244.1.5")]
    [TestCase("0.0.0.0")]
    [TestCase("255.255.255.255")]
    [TestCase("fd00:10:244::5")]
    [TestCase("10.244.01.5")]
    [TestCase("10.1")]
    [TestCase("not-an-address")]
    [TestCase("")]
    public void Addresses_read_back_as_written(string text)
    {
        var endpoint = new EndpointView([text], true, null, null, "node-a", null);

        Assert.That(endpoint.Addresses, Is.EqualTo(new[] { text }));
        Assert.That(endpoint.AddressText(0), Is.EqualTo(text));
        Assert.That(endpoint.Address(0)?.ToString(), Is.EqualTo(System.Net.IPAddress.TryParse(text, out var parsed) ? parsed.ToString() : null));
    }

    [Test]
    public void Several_or_no_addresses_are_kept_in_order()
    {
        Assert.That(new EndpointView(["10.0.0.2", "10.0.0.1"], null, null, null, null, null).Addresses, Is.EqualTo(new[] { "10.0.0.2", "10.0.0.1" }));
        Assert.That(new EndpointView([], null, null, null, null, null).AddressCount, Is.Zero);
        Assert.That(new EndpointView(default, null, null, null, null, null).AddressCount, Is.Zero);
    }

    [Test]
    public void Conditions_keep_unset_apart_from_false()
    {
        bool?[] values = [null, false, true];
        foreach (var ready in values)
        foreach (var serving in values)
        foreach (var terminating in values)
        {
            var endpoint = new EndpointView(["10.0.0.1"], ready, serving, terminating, "node-a", "pod-0");
            Assert.That((endpoint.Ready, endpoint.Serving, endpoint.Terminating), Is.EqualTo((ready, serving, terminating)));
            Assert.That(endpoint.IsReady, Is.EqualTo(ready != false && serving != false && terminating != true));
            Assert.That((endpoint.NodeName, endpoint.Hostname), Is.EqualTo(("node-a", "pod-0")));
        }
    }

    [Test]
    public void Endpoints_that_say_the_same_are_equal()
    {
        // Two slices of one pod, read from two events: separate strings, same meaning.
        string[] v6 = ["fd00::1", new string("fd00::1".AsSpan())], v4 = ["10.0.0.1", new string("10.0.0.1".AsSpan())];
        Assert.That(new EndpointView([v6[0]], true, null, null, "n", null), Is.EqualTo(new EndpointView([v6[1]], true, null, null, "n", null)));
        Assert.That(new EndpointView([v4[0]], true, null, null, "n", null), Is.EqualTo(new EndpointView([v4[1]], true, null, null, "n", null)));
        Assert.That(new EndpointView(["10.0.0.1"], true, null, null, "n", null), Is.Not.EqualTo(new EndpointView(["10.0.0.2"], true, null, null, "n", null)));
        Assert.That(new EndpointView(["10.0.0.1"], true, null, null, "n", null), Is.Not.EqualTo(new EndpointView(["10.0.0.1"], null, null, null, "n", null)));
    }
}
