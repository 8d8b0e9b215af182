#!/usr/bin/env bash
# Static release builds, one archive per platform (binary, LICENSE, completion helper), and
# sha256sums.txt, into dist/ (or $DIST). VERSION comes from the Makefile (a git tag, else the
# VERSION file).
#
# Reproducible: two runs on one commit give byte-identical archives, so the committed
# plugins.yaml can be checked by a rebuild (hack/verify-dist.sh). The binary is built with
# -trimpath, an empty build ID and without VCS stamping (a stamp would name the commit, and the
# commit that adds plugins.yaml can never be the one its archives were built from); the archives
# carry SOURCE_DATE_EPOCH as every time: by default the date of the last commit that changed
# anything but plugins.yaml, for the same reason.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:?}
out=${DIST:-dist}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct -- . ':(exclude)plugins.yaml' 2>/dev/null) ||
    { echo "dist: not a git checkout: set SOURCE_DATE_EPOCH (seconds since 1970) for the archives' times" >&2; exit 1; }
fi
export SOURCE_DATE_EPOCH
tools=$(hack/tools/build.sh)
rm -rf "$out" && mkdir -p "$out"
for platform in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
  os=${platform%/*} arch=${platform#*/}
  stage=$(mktemp -d)
  bin=kubectl-llmdbench ext=tar.gz
  if [ "$os" = windows ]; then bin=kubectl-llmdbench.exe ext=zip; fi
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.version=$version" -o "$stage/$bin" ./cmd/kubectl-llmdbench
  "$tools/release" pack "$out/kubectl-llmdbench_${version}_${os}_${arch}.$ext" "$stage/$bin" LICENSE kubectl_complete-llmdbench
  rm -rf "$stage"
done
(cd "$out" && sha256sum -- *.tar.gz *.zip >sha256sums.txt)
echo "$out/: $(cd "$out" && echo *) (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
