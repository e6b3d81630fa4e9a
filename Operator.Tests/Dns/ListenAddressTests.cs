using System.Net;
using MiniLb.Operator.Dns;

namespace MiniLb.Operator.Tests.Dns;

public class ListenAddressTests
{
    [TestCase("127.0.0.1:5353", "127.0.0.1:5353")]
    [TestCase("0.0.0.0:53", "0.0.0.0:53")]
    [TestCase(":5353", "0.0.0.0:5353 [::]:5353")]
    [TestCase("[::]:5353", "[::]:5353")]
    [TestCase("[::1]:5353", "[::1]:5353")]
    [TestCase("[fd00::53]:53", "[fd00::53]:53")]
    public void Parses(string text, string endPoints)
    {
        var address = ListenAddress.Parse(text);

        Assert.That(string.Join(" ", address.EndPoints.Select(e => e.ToString())), Is.EqualTo(endPoints));
    }

    [TestCase("nonsense", "'nonsense' is not a listen address")]
    [TestCase("127.0.0.1", "is not a listen address")]
    [TestCase("127.0.0.1:99999", "the port must be a number from 0 to 65535")]
    [TestCase("localhost:53", "'localhost' is not an IP address")]
    [TestCase("::1:53", "is not a listen address")]
    [TestCase("10.1:53", "'10.1' is not an IP address")]
    [TestCase("", "is not a listen address")]
    public void Explains_what_is_wrong(string text, string message)
    {
        Assert.That(ListenAddress.TryParse(text, out _, out var error), Is.False);
        Assert.That(error, Does.Contain(message));
        Assert.That(error, Does.Contain("127.0.0.1:5353"), "the message shows a valid example");
        Assert.That(() => ListenAddress.Parse(text), Throws.TypeOf<FormatException>());
    }

    [Test]
    public void Both_families_use_the_same_port()
    {
        var address = ListenAddress.Parse(":53");
        Assert.That(address.EndPoints.Select(e => e.Address), Is.EqualTo(new[] { IPAddress.Any, IPAddress.IPv6Any }));
    }
}
