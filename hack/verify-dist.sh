#!/usr/bin/env bash
# Proves the release archives are reproducible: rebuilds them into a temporary folder and compares
# each, byte for byte, with dist/ (built before by hack/dist.sh); and, when the committed
# plugins.yaml is the manifest of this VERSION, compares its sha256s with the rebuild, so the
# published manifest is one anybody can check by building the commit. Fails naming the archive.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:?}
[ -n "$(ls dist/kubectl-llmdbench_* 2>/dev/null)" ] || { echo "verify-dist: dist/ has no archives: run make dist first" >&2; exit 1; }
tools=$(hack/tools/build.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
DIST="$work/dist" hack/dist.sh >/dev/null
fail=0
for a in dist/kubectl-llmdbench_*; do
  name=${a#dist/}
  if [ ! -f "$work/dist/$name" ]; then
    echo "verify-dist: $name is in dist/ but the rebuild made no such archive" >&2; fail=1
  elif ! cmp -s "$a" "$work/dist/$name"; then
    echo "verify-dist: $name differs between two builds of this tree ($(sha256sum <"$a" | cut -c1-12) vs $(sha256sum <"$work/dist/$name" | cut -c1-12)): the release is not reproducible" >&2; fail=1
  fi
done
for a in "$work"/dist/kubectl-llmdbench_*; do
  [ -f "dist/${a##*/}" ] || { echo "verify-dist: the rebuild made ${a##*/}, which dist/ lacks" >&2; fail=1; }
done
[ "$fail" = 0 ] || exit 1
echo "dist/: $(cd dist && ls kubectl-llmdbench_* | wc -l) archives byte-identical in two builds"

# The committed manifest names this version: its archives must be the ones this tree builds.
manifest_version=$(sed -n 's/^  version: *//p' plugins.yaml)
if [ "$manifest_version" = "$version" ]; then
  "$tools/release" check plugins.yaml "$work/dist" ||
    { echo "verify-dist: the committed plugins.yaml is not the manifest of what this tree builds: run make krew-manifest and commit plugins.yaml" >&2; exit 1; }
  echo "plugins.yaml ($version): every sha256 matches the rebuild"
else
  echo "plugins.yaml describes $manifest_version, not $version: its sha256s are not checked against this tree"
fi
