using System.Net;
using System.Net.Sockets;
using MiniLb.Operator.Tests.Dns;

namespace MiniLb.Operator.Tests.Cli;

/// <summary>One UDP query to a loopback port: the answer, or null when none came in time.</summary>
internal static class UdpQuery
{
    public static async Task<byte[]?> Query(this UdpClient client, int port, byte[] query)
    {
        using (client)
        {
            client.Connect(IPAddress.Loopback, port);
            await client.SendAsync(query);
            using var timeout = new CancellationTokenSource(TestDnsServer.Patience);
            try
            {
                return (await client.ReceiveAsync(timeout.Token)).Buffer;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }
}
