#!/usr/bin/env bash
# Builds the native harness image (linux/amd64) without a container engine, as a `docker save`
# archive in dist/: the static plugin binary, Debian's static busybox for the launcher's run
# script, user 65532. Load it with `docker load -i` / `podman load -i`, or push it with
# `skopeo copy docker-archive:dist/…tar docker://REGISTRY/…`. Prints the archive's path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:?}
image=${IMAGE:-ghcr.io/llmdbench/kubectl-llmdbench:$version}
# Reproducible as the release archives are (see hack/dist.sh): no VCS stamp, no build ID, every
# time in the archive SOURCE_DATE_EPOCH.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct -- . ':(exclude)plugins.yaml' 2>/dev/null) ||
    { echo "image: not a git checkout: set SOURCE_DATE_EPOCH (seconds since 1970) for the image's times" >&2; exit 1; }
fi
export SOURCE_DATE_EPOCH
hack/install-deps.sh >&2
tools=$(hack/tools/build.sh)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false -ldflags "-s -w -buildid= -X main.version=$version" \
  -o "$stage/kubectl-llmdbench" ./cmd/kubectl-llmdbench
mkdir -p dist
out="dist/kubectl-llmdbench-image_${version}_linux_amd64.tar"
"$tools/release" image "$stage/kubectl-llmdbench" /bin/busybox "$image" amd64 "$out"
echo "$out"
