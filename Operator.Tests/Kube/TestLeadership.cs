using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Tests.Kube;

/// <summary>Leadership a test switches by hand.</summary>
public sealed class TestLeadership : ILeadership
{
    public bool IsLeader { get; set; }

    public event Action<bool>? Changed;

    public void Become(bool leader)
    {
        IsLeader = leader;
        Changed?.Invoke(leader);
    }
}
