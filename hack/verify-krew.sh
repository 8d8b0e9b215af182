#!/usr/bin/env bash
# Proves a krew manifest (default plugins.yaml) with krew itself: validate-krew-manifest checks it (under the
# name krew requires, llmdbench.yaml) and installs every platform from the dist/ archives, served
# on loopback; then a real `kubectl krew install --manifest --archive` into a temporary KREW_ROOT,
# `kubectl llmdbench version` through kubectl's plugin mechanism, and `kubectl krew uninstall`.
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=$(realpath "${1:-plugins.yaml}")
tools=$(hack/tools/build.sh)
version=${VERSION:?}
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$tools/release" serve dist >"$work/url" &
server=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")
sed "s#https://github.com/llmdbench/kubectl-llmdbench/releases/download/$version/#$url#" "$manifest" >"$work/llmdbench.yaml"
PATH="$tools:$PATH" "$tools/validate-krew-manifest" -manifest "$work/llmdbench.yaml"

os=$(go env GOOS) arch=$(go env GOARCH)
export KREW_ROOT="$work/krew"
PATH="$tools:$PATH" kubectl krew install --manifest="$manifest" --archive="dist/kubectl-llmdbench_${version}_${os}_${arch}.tar.gz"
out=$(PATH="$KREW_ROOT/bin:$tools:$PATH" kubectl llmdbench version)
echo "$out"
case "$out" in *"$version"*) ;; *) echo "installed plugin reports '$out', want $version" >&2; exit 1 ;; esac
[ -f "$KREW_ROOT/store/llmdbench/$version/LICENSE" ] || { echo "LICENSE not installed" >&2; exit 1; }
# krew's other commands insist on a local index, which cannot be fetched here: an empty one will do.
git init -q "$KREW_ROOT/index/default"
PATH="$tools:$PATH" kubectl krew uninstall llmdbench
[ ! -e "$KREW_ROOT/bin/kubectl-llmdbench" ] || { echo "uninstall left the plugin behind" >&2; exit 1; }
echo "krew manifest verified: validate-krew-manifest, install, run, uninstall"
