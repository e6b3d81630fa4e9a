using System.Globalization;
using System.Net;

namespace MiniLb.Operator.Dns;

/// <summary>
/// Where DNS listens: <c>host:port</c> (an IPv4 or IPv6 address), <c>[IPv6]:port</c>, or <c>:port</c> for every
/// address of both families. <c>[::]:port</c> is IPv6 only. Port 0 picks a free port (one for UDP and TCP).
/// </summary>
public sealed record ListenAddress(string Text, IReadOnlyList<IPEndPoint> EndPoints)
{
    public override string ToString() => Text;

    public static ListenAddress Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ListenAddress? address, out string error)
    {
        address = null;
        const string expected = "expected host:port, [IPv6]:port or :port, for example 127.0.0.1:5353, [::1]:5353 or :5353";
        error = $"'{text}' is not a listen address; {expected}";
        if (string.IsNullOrWhiteSpace(text))
            return false;
        text = text.Trim();

        var colon = text.LastIndexOf(':');
        if (colon < 0)
            return false;
        var host = text[..colon];
        if (!ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            error = $"'{text}' is not a listen address: the port must be a number from 0 to 65535; {expected}";
            return false;
        }

        if (host.Length == 0)
        {
            address = new(text, [new IPEndPoint(IPAddress.Any, port), new IPEndPoint(IPAddress.IPv6Any, port)]);
            return true;
        }
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        else if (host.Contains(':'))
            return false; // an IPv6 address needs brackets, or the port is ambiguous

        if (!IPAddress.TryParse(host, out var ip) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && host.Count(c => c == '.') != 3))
        {
            error = $"'{text}' is not a listen address: '{host}' is not an IP address; {expected}";
            return false;
        }
        address = new(text, [new IPEndPoint(ip, port)]);
        return true;
    }
}
