using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Manifests;

/// <summary>
/// The classes that carry RBAC attributes: the source of `config/rbac`. Listed rather than found by scanning the
/// assembly so the lookup survives trimming; a test fails when an attributed class is missing here.
/// The application lists them (the framework's own and its kinds'), so `Kube/` depends on nothing of the app.
/// </summary>
public static class RbacDeclarations
{
    public static IReadOnlyList<Type> Types { get; } =
    [
        typeof(ListWatches),
        typeof(Resolution.WatchedKinds),
        typeof(Controllers.MiniLbConfigKind),
        typeof(StatusWriter),
        typeof(EventPublisher),
        typeof(LeaseLeadership),
    ];
}
