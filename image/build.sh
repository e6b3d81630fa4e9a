#!/usr/bin/env bash
# `make image` without Docker or a registry: the NativeAOT binary plus the few runtime files it needs, taken from
# pinned Debian packages, written as an OCI image layout, a docker archive (`docker load`, `k3s ctr images import`,
# `kind load image-archive`) and, when podman is installed, an image in podman's local store.
# The same binary, VERSION, packages and commit give the same digest: files, owners and timestamps in the layer
# are fixed (the commit's time), gzip writes no name or time, the JSON documents are written in one order.
#
#   image/build.sh              build (BINARY, OUT, DEBS, IMAGE_SOURCE, REVISION, SOURCE_DATE_EPOCH override the defaults;
#                               LOAD=0 leaves podman's store alone)
#   image/build.sh --pin        print packages.lock lines for the versions apt would download today
set -euo pipefail
cd "$(dirname "$0")/.."

LOCK=image/packages.lock
if [ "${1:-}" = "--pin" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  for package in $(grep -v '^#' "$LOCK" | awk '{print $1}'); do
    (cd "$dir" && apt-get download -qq "$package" 2>/dev/null)
    deb=$(ls "$dir"/"${package}"_*.deb)
    echo "$package $(dpkg-deb -f "$deb" Version) $(sha256sum "$deb" | cut -d' ' -f1)"
  done
  exit 0
fi

VERSION=$(tr -d '[:space:]' < VERSION)
BINARY=${BINARY:-artifacts/publish/minilb}
OUT=${OUT:-artifacts/image}
DEBS=${DEBS:-artifacts/image/debs}
LOAD=${LOAD:-1}
NAME=${NAME:-minilb}
IMAGE_SOURCE=${IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || echo "https://github.com/minilb/minilb")}
REVISION=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
# The commit's time, not the clock's: two builds of one commit get the same timestamps.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
PODMAN=${PODMAN:-podman --runtime runc --cgroup-manager=cgroupfs}

[ -x "$BINARY" ] || { echo "image: $BINARY is missing: run \`make publish\` first" >&2; exit 2; }

# 1. The pinned packages, downloaded once and checked against the lock.
mkdir -p "$DEBS"
debs=()
while read -r package version sha256; do
  deb="$DEBS/${package}_${version//:/%3a}.deb"
  if [ ! -f "$deb" ]; then
    (cd "$DEBS" && apt-get download -qq "$package=$version" 2>/dev/null) || {
      echo "image: apt-get download $package=$version failed: Debian may have replaced it with a newer fix;" \
           "run \`bash image/build.sh --pin\` and update $LOCK" >&2
      exit 2
    }
    mv "$DEBS/${package}_${version//:/%3a}"_*.deb "$deb"
  fi
  actual=$(sha256sum "$deb" | cut -d' ' -f1)
  [ "$actual" = "$sha256" ] || { echo "image: $deb has SHA-256 $actual, $LOCK says $sha256" >&2; exit 2; }
  debs+=("$deb")
done < <(grep -v '^#' "$LOCK")

# 2. The root filesystem: only what the binary loads (ldd: the loader, libc, libm; at run time libssl/libcrypto for
#    TLS to the API server) and reads (the CA bundle, users for the non-root uid, name-service order).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$work/debs"; done
rootfs=$work/rootfs
lib=lib/x86_64-linux-gnu
mkdir -p "$rootfs/$lib" "$rootfs/usr/$lib" "$rootfs/lib64" "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp" \
  "$rootfs/usr/share/doc"
for file in ld-linux-x86-64.so.2 libc.so.6 libm.so.6; do cp -L "$work/debs/$lib/$file" "$rootfs/$lib/$file"; done
ln -s "../$lib/ld-linux-x86-64.so.2" "$rootfs/lib64/ld-linux-x86-64.so.2"
for file in libssl.so.3 libcrypto.so.3; do cp -L "$work/debs/usr/$lib/$file" "$rootfs/usr/$lib/$file"; done
# update-ca-certificates would build this bundle at install time: every Mozilla certificate, in name order.
find "$work/debs/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | while read -r crt; do
  cat "$crt"; [ -z "$(tail -c1 "$crt")" ] || echo
done > "$rootfs/etc/ssl/certs/ca-certificates.crt"
# Where OpenSSL (Debian's build: OPENSSLDIR /usr/lib/ssl) looks by default, as Debian's openssl package links them;
# the image's SSL_CERT_FILE names the bundle too.
mkdir -p "$rootfs/usr/lib/ssl"
ln -s /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"
ln -s /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/lib/ssl/cert.pem"
for package in $(grep -v '^#' "$LOCK" | awk '{print $1}'); do
  mkdir -p "$rootfs/usr/share/doc/$package"
  cp "$work/debs/usr/share/doc/$package/copyright" "$rootfs/usr/share/doc/$package/copyright"
done
install -m 0755 "$BINARY" "$rootfs/usr/local/bin/minilb"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
chmod 1777 "$rootfs/tmp"
chmod -R u=rwX,go=rX "$rootfs/etc" "$rootfs/usr/share"
chmod 0755 "$rootfs/$lib"/* "$rootfs/usr/$lib"/*

# 3. One layer, byte for byte the same for the same files.
LC_ALL=C tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime --owner=0 --group=0 --numeric-owner \
  --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$rootfs" -cf "$work/layer.tar" .

# 4. The OCI image layout, then the archive and podman's copy made from it.
rm -rf "$OUT/oci"
read -r digest compressed < <(python3 image/oci.py --layer "$work/layer.tar" --out "$OUT/oci" --tag "$VERSION" --epoch "$SOURCE_DATE_EPOCH" \
  --label "org.opencontainers.image.title=minilb" \
  --label "org.opencontainers.image.description=DNS-based load balancer for Kubernetes" \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.source=$IMAGE_SOURCE" \
  --label "org.opencontainers.image.revision=$REVISION" \
  --label "org.opencontainers.image.licenses=Apache-2.0")
echo "$digest" > "$OUT/$NAME-$VERSION.digest"
archive="$OUT/$NAME-$VERSION.tar"
rm -f "$archive"
skopeo copy --quiet "oci:$OUT/oci:$VERSION" "docker-archive:$archive:$NAME:$VERSION"
echo "image $NAME:$VERSION  digest $digest"
echo "  layer $(numfmt --to=iec --suffix=B "$(stat -c %s "$work/layer.tar")") uncompressed, $(numfmt --to=iec --suffix=B "$compressed") compressed"
echo "  OCI layout  $OUT/oci (skopeo copy oci:$OUT/oci:$VERSION docker://REGISTRY/$NAME:$VERSION)"
echo "  archive     $archive (docker load -i / k3s ctr images import / kind load image-archive)"
if [ "$LOAD" = 1 ] && command -v podman >/dev/null; then
  $PODMAN load --quiet --input "$archive" >/dev/null
  echo "  podman      docker.io/library/$NAME:$VERSION"
fi
