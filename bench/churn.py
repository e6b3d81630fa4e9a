#!/usr/bin/env python3
"""Flips the readiness of one endpoint of a served Service's EndpointSlice RATE times a second for SECONDS, as a
rolling update does, through the test API server (PUT of the whole slice, as the endpoint-slice controller writes
it). Usage: churn.py <api-server-url> <churn.json> <rate> <seconds>"""
import http.client
import json
import ssl
import sys
import time
import urllib.parse


def main():
    url, slices_file, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    target = urllib.parse.urlparse(url)
    if target.scheme == "https":  # the test API server's own certificate: the churn only needs to reach it
        conn = http.client.HTTPSConnection(target.hostname, target.port, timeout=10, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    slices = json.load(open(slices_file))

    def call(method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"churn: {method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    paths = [f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}" for ns, name in slices]
    objects = {p: call("GET", p) for p in paths}
    changes, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        path = paths[changes % len(paths)]
        obj = objects[path]
        conditions = obj["endpoints"][0]["conditions"]
        conditions["ready"] = conditions["serving"] = not conditions.get("ready", True)
        objects[path] = call("PUT", path, obj)
        changes += 1
        time.sleep(max(0.0, start + changes / rate - time.monotonic()))
    # Leave every slice ready again, so a later run starts from the same answers.
    for path, obj in objects.items():
        if not obj["endpoints"][0]["conditions"]["ready"]:
            obj["endpoints"][0]["conditions"].update(ready=True, serving=True)
            call("PUT", path, obj)
    print(changes)


if __name__ == "__main__":
    main()
