using Microsoft.Extensions.Time.Testing;
using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

/// <summary>A model on default settings and a fixed clock, holding <paramref name="items"/>, published once.</summary>
internal static class PublishedModel
{
    public static ClusterModel Of(params object[] items)
    {
        var model = new ClusterModel(new ZoneSettings(), new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z")));
        foreach (var item in items)
            model.Upsert(item);
        model.Publish();
        return model;
    }
}
