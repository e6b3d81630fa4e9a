using k8s;
using k8s.Models;
using MiniLb.Operator.Kube;

namespace MiniLb.Operator.Resolution;

/// <summary>
/// The projected kinds, each declared once: its <see cref="ResourceKind"/>, the source-generated JSON shape it is
/// read into, the projection the cache keeps, the LIST/WATCH adapter and (as attributes) the RBAC it needs.
/// </summary>
[EntityRbac(typeof(V1Service), RbacVerb.List | RbacVerb.Watch)]
[EntityRbac(typeof(V1EndpointSlice), RbacVerb.List | RbacVerb.Watch)]
[EntityRbac(typeof(V1Node), RbacVerb.List | RbacVerb.Watch)]
public static class WatchedKinds
{
    public static ListWatch<ServiceView> Services(IKubernetes client) =>
        JsonListWatch.Create(client, Kinds.Service, ViewJson.Default.ListJsonServiceJson, ViewJson.Default.ServiceJson, s => s.ToView());

    public static ListWatch<SliceView> EndpointSlices(IKubernetes client) =>
        JsonListWatch.Create(client, Kinds.EndpointSlice, ViewJson.Default.ListJsonEndpointSliceJson, ViewJson.Default.EndpointSliceJson, s => s.ToView());

    /// <summary>Nodes as trimmed <see cref="V1Node"/>s: podCIDRs, addresses, the Ready condition (see <see cref="NodeJson"/>).</summary>
    public static ListWatch<V1Node> Nodes(IKubernetes client) =>
        JsonListWatch.Create(client, Kinds.Node, ViewJson.Default.ListJsonNodeJson, ViewJson.Default.NodeJson, n => n.ToNode());
}
