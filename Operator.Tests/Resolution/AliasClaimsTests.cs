using MiniLb.Operator.Resolution;

namespace MiniLb.Operator.Tests.Resolution;

public class AliasClaimsTests
{
    private static readonly AliasPattern Www = new("www.example.com", AliasKind.Exact);
    private static readonly AliasPattern Wild = new("example.com", AliasKind.OneLabelWildcard);

    [Test]
    public void Claims_are_answered_by_pattern_and_replaced_by_source()
    {
        var claims = new AliasClaims();
        claims.Set("Service/shop/web", [new AliasClaim(Www, ["web.shop.minilb"])]);
        claims.Set("Ingress/shop/site", [new AliasClaim(Www, ["lb.shop.minilb"]), new AliasClaim(Wild, ["lb.shop.minilb"])]);

        Assert.That(claims.ClaimsOf(Www), Is.EquivalentTo(new[] { ("Service/shop/web", new[] { "web.shop.minilb" }), ("Ingress/shop/site", new[] { "lb.shop.minilb" }) }));
        Assert.That(claims.TakeDirty(), Is.EquivalentTo(new[] { Www, Wild }));

        claims.Set("Ingress/shop/site", []);

        Assert.That(claims.ClaimsOf(Www).Select(c => c.Source), Is.EqualTo(new[] { "Service/shop/web" }));
        Assert.That(claims.ClaimsOf(Wild), Is.Empty);
        Assert.That(claims.TakeDirty(), Is.EquivalentTo(new[] { Www, Wild }), "the patterns it gave up must be rebuilt");
    }

    [Test]
    public void A_target_that_changes_marks_exactly_the_patterns_pointing_at_it()
    {
        var claims = new AliasClaims();
        claims.Set("Service/shop/web", [new AliasClaim(Www, ["web.shop.minilb"])]);
        claims.Set("Ingress/shop/site", [new AliasClaim(Wild, ["lb.shop.minilb"])]);
        claims.TakeDirty();

        claims.TargetChanged("lb.shop.minilb");
        claims.TargetChanged("unclaimed.shop.minilb");

        Assert.That(claims.TakeDirty(), Is.EqualTo(new[] { Wild }));
        Assert.That(claims.TakeDirty(), Is.Empty);
    }
}
