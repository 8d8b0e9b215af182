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
# krew is rebuilt when the module's dependencies change (go.sum), as the release helper is.
krewsum="$(sha256sum go.mod go.sum | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN/kubectl-krew" ] || [ ! -x "$BIN/validate-krew-manifest" ] || [ "$(cat "$BIN/krew.sum" 2>/dev/null)" != "$krewsum" ]; then
  go build -o "$BIN/" sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest
  mv "$BIN/krew" "$BIN/kubectl-krew"
  echo "$krewsum" >"$BIN/krew.sum"
fi
sum="$(cat go.sum cmd/release/*.go | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN/release" ] || [ "$(cat "$BIN/release.sum" 2>/dev/null)" != "$sum" ]; then
  go build -o "$BIN/release" ./cmd/release
  echo "$sum" >"$BIN/release.sum"
fi
echo "$BIN"
