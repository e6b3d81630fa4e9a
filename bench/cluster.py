#!/usr/bin/env python3
"""Writes a cluster shaped like a real one for `make bench-run-mode`, as JSON Lists for `kubectl create -f`:
Nodes as a kubelet writes them (30-45 images, conditions, labels, annotations, nodeInfo), Services with the
labels and annotations helm writes (most ClusterIP; one in five `LoadBalancer` with class `minilb`), and one
EndpointSlice per Service as the endpoint-slice controller writes it (ownerReferences, targetRef, nodeName, zone,
conditions, ports). Pod addresses come from their Node's podCIDR. Also writes the dnsperf query file for the
served Services and `churn.json`: the slices the churn loop flips."""
import argparse
import json
import os
import random
import uuid


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints-per-service", type=int, default=5)
    parser.add_argument("--served-every", type=int, default=5, help="every Nth Service is LoadBalancer/minilb")
    parser.add_argument("--nodes", type=int, default=0, help="default: 50 up to 1,000 Services, else 200")
    parser.add_argument("--domain", default="minilb")
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    nodes = args.nodes or (50 if args.services <= 1000 else 200)
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(11)
    ids = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))

    node_items = [node(i, rng, ids) for i in range(nodes)]
    next_host = [10] * nodes  # next pod address per node (10.244.<node>.<host>)
    service_items, slice_items, served = [], [], []
    for i in range(args.services):
        ns, name = f"team{i % 20}", f"app{i}"
        is_served = i % args.served_every == 0
        svc = service(ns, name, i, is_served, ids)
        service_items.append(svc)
        endpoints = []
        for k in range(args.endpoints_per_service):
            n = rng.randrange(nodes)
            host = next_host[n]
            next_host[n] += 1
            address = f"10.244.{n}.{2 + host % 250}"  # inside the node's podCIDR; wraps past 250 pods per node
            endpoints.append(endpoint(ns, name, address, f"node-{n:03d}", n, ids, rng))
        slice_items.append(endpoint_slice(ns, name, svc["metadata"]["uid"], endpoints, rng))
        if is_served:
            served.append((ns, name))

    write_list(os.path.join(args.out, "nodes.json"), node_items)
    write_list(os.path.join(args.out, "services.json"), service_items)
    write_list(os.path.join(args.out, "endpointslices.json"), slice_items)
    with open(os.path.join(args.out, "namespaces.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team{i}"}} for i in range(min(20, args.services))]}, f)
    # The churn loop flips endpoints of served Services (what a rollout does to what minilb answers).
    with open(os.path.join(args.out, "churn.json"), "w") as f:
        json.dump([[s["metadata"]["namespace"], s["metadata"]["name"]] for s, svc in zip(slice_items, service_items)
                   if svc["spec"]["type"] == "LoadBalancer"][:50], f)
    with open(os.path.join(args.out, "queries.txt"), "w") as f:
        for _ in range(args.queries):
            ns, name = rng.choice(served)
            roll = rng.random()
            f.write(f"{name}.{ns}.{args.domain} A\n" if roll < 0.5 else f"nx{rng.randrange(5000)}.{ns}.{args.domain} A\n")
    with open(os.path.join(args.out, "served"), "w") as f:
        f.write(f"{len(served)}\n")


def write_list(path, items):
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f, separators=(",", ":"))


def helm_labels(name, component):
    return {
        "app.kubernetes.io/name": name, "app.kubernetes.io/instance": name, "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": "1.27.3", "helm.sh/chart": f"{name}-4.12.1",
        "app.kubernetes.io/part-of": "platform",
    }


def service(ns, name, i, served, ids):
    spec = {
        "type": "LoadBalancer" if served else "ClusterIP",
        "clusterIP": f"10.96.{i // 250 % 256}.{i % 250 + 2}", "clusterIPs": [f"10.96.{i // 250 % 256}.{i % 250 + 2}"],
        "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
                  {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}],
        "selector": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "server"},
        "sessionAffinity": "None",
    }
    if served:
        spec.update({"loadBalancerClass": "minilb", "allocateLoadBalancerNodePorts": True, "externalTrafficPolicy": "Cluster"})
        spec["ports"][0]["nodePort"] = 30000 + i % 2000
        spec["ports"][1]["nodePort"] = 32000 + i % 700
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": name, "namespace": ns, "uid": ids(), "creationTimestamp": "2026-10-01T08:00:00Z",
            "labels": helm_labels(name, "server"),
            "annotations": {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": ns},
        },
        "spec": spec,
    }


def endpoint(ns, name, address, node_name, n, ids, rng):
    return {
        "addresses": [address],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": node_name,
        "targetRef": {"kind": "Pod", "name": f"{name}-7d9f8b{rng.randrange(1000):03d}-{rng.randrange(10**5):05d}", "namespace": ns, "uid": ids()},
        "zone": f"zone-{'abc'[n % 3]}",
    }


def endpoint_slice(ns, name, service_uid, endpoints, rng):
    labels = helm_labels(name, "server")
    labels.update({"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io", "kubernetes.io/service-name": name})
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-{rng.randrange(36**5):05x}", "namespace": ns, "generateName": f"{name}-",
            "labels": labels,
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-10-01T08:00:05Z"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": service_uid,
                                 "blockOwnerDeletion": True, "controller": True}],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}],
    }


IMAGES = ["registry.k8s.io/kube-proxy", "registry.k8s.io/pause", "docker.io/calico/node", "docker.io/calico/cni",
          "quay.io/prometheus/node-exporter", "docker.io/library/nginx", "ghcr.io/fluxcd/source-controller",
          "docker.io/grafana/promtail", "registry.k8s.io/coredns/coredns", "quay.io/jetstack/cert-manager-controller",
          "docker.io/bitnami/redis", "docker.io/library/postgres", "ghcr.io/example/api", "ghcr.io/example/web",
          "ghcr.io/example/worker", "registry.k8s.io/ingress-nginx/controller", "docker.io/library/busybox"]


def node(i, rng, ids):
    name = f"node-{i:03d}"
    images = []
    for k in range(rng.randrange(30, 46)):
        repo = IMAGES[k % len(IMAGES)] + ("" if k < len(IMAGES) else f"-{k}")
        digest = "%064x" % rng.getrandbits(256)
        images.append({"names": [f"{repo}@sha256:{digest}", f"{repo}:v1.{rng.randrange(30)}.{rng.randrange(10)}"],
                       "sizeBytes": rng.randrange(700_000, 900_000_000)})
    cond = lambda t, s, reason, msg: {"type": t, "status": s, "lastHeartbeatTime": "2026-12-04T09:00:00Z",
                                      "lastTransitionTime": "2026-10-01T08:00:00Z", "reason": reason, "message": msg}
    # The InternalIP is on loopback: node liveness probes it (port 10250) every second, and a benchmark must not send
    # packets off the machine. The kernel refuses the connection at once, which counts as "the host answered".
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name, "uid": ids(), "creationTimestamp": "2026-10-01T08:00:00Z",
            "labels": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": "",
                       "node.kubernetes.io/instance-type": "m5.xlarge", "topology.kubernetes.io/region": "eu-west-1",
                       "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}"},
            "annotations": {"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                            "node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                            "projectcalico.org/IPv4Address": f"192.0.2.{i % 250 + 2}/24"},
        },
        "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"], "providerID": f"aws:///eu-west-1a/i-{rng.getrandbits(64):016x}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": f"127.18.{i // 250}.{i % 250 + 2}"}, {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": "3920m", "ephemeral-storage": "95551679124", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "15629044Ki", "pods": "110"},
            "capacity": {"cpu": "4", "ephemeral-storage": "103680840Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "16074484Ki", "pods": "110"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {"architecture": "amd64", "bootID": ids(), "containerRuntimeVersion": "containerd://1.7.22",
                         "kernelVersion": "6.1.0-28-amd64", "kubeProxyVersion": "v1.34.1", "kubeletVersion": "v1.34.1",
                         "machineID": "%032x" % rng.getrandbits(128), "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": ids()},
        },
    }


if __name__ == "__main__":
    main()
