#!/usr/bin/env python3
"""Writes an OCI image layout (https://github.com/opencontainers/image-spec) holding one layer.

Every document is written with sorted keys and no whitespace, and the layer is gzipped without a name or time, so
the same layer tar and arguments give the same manifest digest. The image runs as 65532:65532 with minilb as its
entrypoint, like the Dockerfile's.
"""
import argparse
import datetime
import gzip
import hashlib
import json
import os


def blob(out, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}


def document(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer", required=True, help="uncompressed layer tar")
    parser.add_argument("--out", required=True, help="directory of the OCI layout (created)")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--epoch", type=int, required=True, help="creation time, seconds since 1970")
    parser.add_argument("--label", action="append", default=[], help="key=value")
    args = parser.parse_args()

    os.makedirs(os.path.join(args.out, "blobs", "sha256"))
    with open(args.layer, "rb") as f:
        tar = f.read()
    created = datetime.datetime.fromtimestamp(args.epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = dict(label.split("=", 1) for label in args.label)
    labels["org.opencontainers.image.created"] = created

    layer = blob(args.out, gzip.compress(tar, compresslevel=9, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = blob(args.out, document({
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "User": "65532:65532",
            "Entrypoint": ["/usr/local/bin/minilb"],
            "Cmd": ["--help"],
            "Env": ["PATH=/usr/local/bin", "DOTNET_EnableDiagnostics=0", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
            # DNS (the chart's listen port) and /healthz, /readyz, /metrics.
            "ExposedPorts": {"5353/udp": {}, "5353/tcp": {}, "8080/tcp": {}},
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "history": [{"created": created, "created_by": "image/build.sh"}],
    }), "application/vnd.oci.image.config.v1+json")
    manifest = blob(args.out, document({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
        "annotations": {"org.opencontainers.image.created": created},
    }), "application/vnd.oci.image.manifest.v1+json")
    manifest["annotations"] = {"org.opencontainers.image.ref.name": args.tag}
    manifest["platform"] = {"architecture": "amd64", "os": "linux"}

    with open(os.path.join(args.out, "oci-layout"), "wb") as f:
        f.write(document({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(args.out, "index.json"), "wb") as f:
        f.write(document({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest]}))
    # For the build's summary: the digest a registry or containerd reports for this image, and the download size.
    print(manifest["digest"], layer["size"])


if __name__ == "__main__":
    main()
