using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using BenchmarkDotNet.Attributes;
using MiniLb.Operator.Dns;
using MiniLb.Operator.Resolution;
using Zone = MiniLb.Operator.Resolution.Zone;

namespace MiniLb.Bench;

/// <summary>
/// One A query for a Service with 5 endpoints: the slow path (the pure responder on a parsed query, and with
/// ARSoft's parse) against the fast path (a prepared wire answer patched for the query). The zone size varies
/// to show that lookups do not depend on it. And what a zone version costs the fast path: the next zone after one
/// EndpointSlice change, published and asked for a name it did not change (carried over, not learned again).
/// </summary>
[MemoryDiagnoser]
public class AnswerBenchmarks
{
    private readonly Responder responder = new();
    private readonly byte[] output = new byte[ushort.MaxValue];
    private readonly byte[] key = new byte[PreparedAnswers.MaxKeyLength];
    private Zone zone = null!;
    private DnsMessage parsed = null!;
    private byte[] query = null!, missing = null!;
    private PreparedAnswers answers = null!;
    private ClusterModel model = null!;
    private int generation;

    [Params(1_000, 10_000)]
    public int Services { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        model = SyntheticCluster.Model(Services);
        zone = model.Current;
        var name = SyntheticCluster.Name(Services / 2);
        parsed = new DnsMessage { TransactionID = 0x1234, Questions = { new DnsQuestion(DomainName.Parse(name), RecordType.A, RecordClass.INet) } };
        query = Query(name);
        answers = new PreparedAnswers(zone);
        missing = Query("nope." + name);
        // The fast path learns from the slow path's wire answers, as in the server: ask a server without the fast
        // path once for the Service and once for a missing name (any other missing name is then answered too).
        var holder = new ZoneHolder(zone);
        var slow = DnsHost.Start(ListenAddress.Parse("127.0.0.1:0"), holder, options: new DnsHostOptions { FastPath = false });
        try
        {
            Teach(slow, query);
            FastPathNxDomain(); // a miss: starts building the zone's NXDOMAIN index, off the query path
            answers.NxDomainBuiltAsync(zone).Wait(TimeSpan.FromSeconds(30));
            Teach(slow, Query("other.nope." + name));
        }
        finally
        {
            slow.StopAsync().GetAwaiter().GetResult();
        }
        if (FastPath() == 0)
            throw new InvalidOperationException("the fast path did not learn the answer");
        if (FastPathNxDomain() == 0)
            throw new InvalidOperationException("the fast path did not learn the NXDOMAIN shape");
    }

    private void Teach(DnsHost slow, byte[] asked)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 10_000 };
        socket.Connect(slow.EndPoints[0]);
        socket.Send(asked);
        var response = new byte[ushort.MaxValue];
        var length = socket.Receive(response);
        var keyLength = PreparedAnswers.ReadKey(asked, WireMessage.Read(asked), key);
        answers.Learn(key.AsSpan(0, keyLength), zone, response.AsSpan(0, length));
    }

    [Benchmark(Baseline = true, Description = "slow path: Responder.Respond (parsed query)")]
    public DnsMessage? Responder() => responder.Respond(parsed, zone);

    [Benchmark(Description = "slow path: ARSoft parse + Responder.Respond")]
    public DnsMessage? ParseAndRespond() => responder.Respond(DnsMessage.Parse(query), zone);

    [Benchmark(Description = "fast path: PreparedAnswers.TryAnswer")]
    public int FastPath()
    {
        answers.TryAnswer(query, WireMessage.Read(query), zone, output, 1232, key, out var length, out _);
        return length;
    }

    [Benchmark(Description = "fast path: NXDOMAIN for a name never asked before")]
    public int FastPathNxDomain()
    {
        answers.TryAnswer(missing, WireMessage.Read(missing), zone, output, 1232, key, out var length, out _);
        return length;
    }

    [Benchmark(Description = "one EndpointSlice change + Publish + the next query, answered from the carried-over table")]
    public int NextZoneVersion()
    {
        generation ^= 1;
        model.Upsert(SyntheticCluster.Slice(Services / 2 + 1, generation));
        var next = model.Publish();
        if (answers.TryAnswer(query, WireMessage.Read(query), next, output, 1232, key, out var length, out _) != PreparedAnswers.Outcome.Answered
            || answers.TryAnswer(missing, WireMessage.Read(missing), next, output, 1232, key, out _, out _) != PreparedAnswers.Outcome.Answered)
            throw new InvalidOperationException("the new zone version dropped what the fast path had learned");
        return length;
    }

    private static byte[] Query(string name)
    {
        var bytes = new List<byte> { 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }
        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }
}
