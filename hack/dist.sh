#!/usr/bin/env bash
# Static release builds, one archive per platform (binary, LICENSE, completion helper), and
# sha256sums.txt, into dist/. VERSION comes from the Makefile (a git tag, else the VERSION file).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:?}
tools=$(hack/tools/build.sh)
rm -rf dist && mkdir -p dist
for platform in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
  os=${platform%/*} arch=${platform#*/}
  stage=$(mktemp -d)
  bin=kubectl-llmdbench ext=tar.gz
  if [ "$os" = windows ]; then bin=kubectl-llmdbench.exe ext=zip; fi
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.version=$version" \
    -o "$stage/$bin" ./cmd/kubectl-llmdbench
  "$tools/release" pack "dist/kubectl-llmdbench_${version}_${os}_${arch}.$ext" "$stage/$bin" LICENSE kubectl_complete-llmdbench
  rm -rf "$stage"
done
(cd dist && sha256sum -- *.tar.gz *.zip >sha256sums.txt)
echo "dist/: $(cd dist && echo *)"
