#!/usr/bin/env python3
"""Writes the benchmark inputs for one size: a cluster snapshot for `minilb serve`, the equivalent zone file for
Knot DNS, and a dnsperf query file (80 % A hits, 10 % NXDOMAIN, 10 % AAAA NODATA)."""
import argparse
import ipaddress
import os
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=5000, help="ready endpoints in all, spread evenly")
    parser.add_argument("--domain", default="minilb")
    parser.add_argument("--ttl", type=int, default=5)
    parser.add_argument("--queries", type=int, default=100_000, help="lines in the query file (dnsperf loops over it)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.services < 1 or args.endpoints < args.services:
        parser.error("need at least one Service and one endpoint per Service")
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(6)

    services = []  # (namespace, name, addresses)
    base = int(ipaddress.IPv4Address("10.0.0.1"))
    next_address = 0
    for i in range(args.services):
        count = args.endpoints // args.services + (1 if i < args.endpoints % args.services else 0)
        addresses = [str(ipaddress.IPv4Address(base + next_address + k)) for k in range(count)]
        next_address += count
        services.append((f"ns{i % 20}", f"svc{i}", addresses))

    write_snapshot(os.path.join(args.out, "snapshot.yaml"), services)
    write_zone(os.path.join(args.out, f"{args.domain}.zone"), services, args.domain, args.ttl)
    write_queries(os.path.join(args.out, "queries.txt"), services, args.domain, args.queries, rng)


def write_snapshot(path, services):
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: List\nitems:\n")
        for namespace, name, addresses in services:
            f.write(f"""- apiVersion: v1
  kind: Service
  metadata: {{name: {name}, namespace: {namespace}}}
  spec:
    type: LoadBalancer
    loadBalancerClass: minilb
    ports: [{{name: http, port: 80, protocol: TCP, targetPort: 8080}}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata:
    name: {name}-1
    namespace: {namespace}
    labels: {{kubernetes.io/service-name: {name}}}
  addressType: IPv4
  ports: [{{name: http, port: 8080, protocol: TCP}}]
  endpoints:
""")
            for address in addresses:
                f.write(f"  - addresses: ['{address}']\n    conditions: {{ready: true}}\n")


def write_zone(path, services, domain, ttl):
    """What minilb serves for the same Services: the name's A records, one name per endpoint, SRV per named port."""
    with open(path, "w") as f:
        f.write(f"$ORIGIN {domain}.\n$TTL {ttl}\n")
        f.write(f"@ SOA ns1.{domain}. hostmaster.{domain}. 1 7200 1800 86400 {ttl}\n@ NS ns1.{domain}.\nns1 A 127.0.0.1\n")
        for namespace, name, addresses in services:
            owner = f"{name}.{namespace}"
            for address in addresses:
                label = address.replace(".", "-")
                f.write(f"{owner} A {address}\n{label}.{owner} A {address}\n")
                f.write(f"_http._tcp.{owner} SRV 0 1 8080 {label}.{owner}.{domain}.\n")


def write_queries(path, services, domain, count, rng):
    with open(path, "w") as f:
        for _ in range(count):
            namespace, name, _ = rng.choice(services)
            roll = rng.random()
            if roll < 0.8:
                f.write(f"{name}.{namespace}.{domain} A\n")
            elif roll < 0.9:
                f.write(f"nx{rng.randrange(5000)}.{namespace}.{domain} A\n")
            else:
                f.write(f"{name}.{namespace}.{domain} AAAA\n")


if __name__ == "__main__":
    main()
