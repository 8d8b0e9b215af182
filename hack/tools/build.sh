#!/usr/bin/env bash
# Builds the release tools (krew v0.4.3, its validate-krew-manifest, and our release helper) into a
# cache folder outside the repo, and prints it. krew is installed as kubectl-krew so that
# `kubectl krew` works, as krew's validator expects.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-llmdbench}"
BIN="$cache/tools-krew-v0.4.3"
mkdir -p "$BIN"
cd "$here"
if [ ! -x "$BIN/kubectl-krew" ] || [ ! -x "$BIN/validate-krew-manifest" ]; then
  go build -o "$BIN/" sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest
  mv "$BIN/krew" "$BIN/kubectl-krew"
fi
sum="$(cat go.sum cmd/release/*.go | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN/release" ] || [ "$(cat "$BIN/release.sum" 2>/dev/null)" != "$sum" ]; then
  go build -o "$BIN/release" ./cmd/release
  echo "$sum" >"$BIN/release.sum"
fi
echo "$BIN"
