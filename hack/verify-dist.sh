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

# The committed manifest is checked against the rebuild when it was rendered for this tree: it names
# this version, no commit after it changed anything else, and nothing outside it is uncommitted.
# (Every code change changes the archives, so a manifest rendered for an older commit is reported,
# not failed: `make krew-manifest` renders it anew, and a release commits it last.)
manifest_version=$(sed -n 's/^  version: *//p' plugins.yaml)
rendered=$(git log -1 --format=%H -- plugins.yaml 2>/dev/null || true)
later=""
if [ -n "$rendered" ]; then
  later=$(git rev-list --no-merges "$rendered..HEAD" -- . ':(exclude)plugins.yaml' | head -1)
  git diff --quiet HEAD -- . ':(exclude)plugins.yaml' || later=uncommitted
fi
if [ "$manifest_version" != "$version" ]; then
  echo "plugins.yaml describes $manifest_version, not $version: its sha256s are not checked against this tree"
elif [ -z "$rendered" ] || [ -n "$later" ]; then
  echo "plugins.yaml was rendered for an earlier tree (${rendered:0:12}; later: ${later:0:12}): its sha256s are not checked; make krew-manifest renders it for this one"
else
  "$tools/release" check plugins.yaml "$work/dist" ||
    { echo "verify-dist: the committed plugins.yaml is not the manifest of what this tree builds: run make krew-manifest and commit plugins.yaml" >&2; exit 1; }
  echo "plugins.yaml ($version, rendered at ${rendered:0:12}): every sha256 matches the rebuild"
fi
