using MiniLb.Operator.Entities;

namespace MiniLb.Operator.Tests.Entities;

public sealed class ConditionsTests
{
    private static readonly DateTimeOffset Earlier = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = Earlier.AddHours(1);

    [Test]
    public void A_new_type_is_appended()
    {
        var list = Conditions.Set([Ready(Condition.True, "Serving", Earlier)], Dns(Condition.True, Now));

        Assert.That(list.Select(c => c.Type), Is.EqualTo(new[] { ConditionTypes.Ready, ConditionTypes.DnsServing }));
    }

    [Test]
    public void The_transition_time_stays_while_the_status_stays_so_an_unchanged_condition_writes_nothing()
    {
        var current = new List<Condition> { Ready(Condition.True, "Serving", Earlier) };

        var list = Conditions.Set(current, Ready(Condition.True, "Serving", Now));

        Assert.That(list, Is.EqualTo(current));
    }

    [Test]
    public void A_new_reason_with_the_same_status_keeps_the_time_but_takes_the_reason()
    {
        var list = Conditions.Set([Ready(Condition.False, "PortInUse", Earlier)], Ready(Condition.False, "BadDomain", Now));

        Assert.That(list.Single(), Has.Property("Reason").EqualTo("BadDomain").And.Property("LastTransitionTime").EqualTo(Earlier));
    }

    [Test]
    public void A_status_change_moves_the_transition_time()
    {
        var list = Conditions.Set([Ready(Condition.True, "Serving", Earlier)], Ready(Condition.False, "PortInUse", Now));

        Assert.That(Conditions.Find(list, ConditionTypes.Ready), Has.Property("Status").EqualTo("False").And.Property("LastTransitionTime").EqualTo(Now));
    }

    private static Condition Ready(string status, string reason, DateTimeOffset at) =>
        new() { Type = ConditionTypes.Ready, Status = status, Reason = reason, Message = reason, LastTransitionTime = at };

    private static Condition Dns(string status, DateTimeOffset at) =>
        new() { Type = ConditionTypes.DnsServing, Status = status, Reason = "Listening", Message = "on :53", LastTransitionTime = at };
}
