#!/usr/bin/env bash
# Builds llm-d-inference-sim into a cache folder outside the repo and prints the binary's path
# (~9 min cold on 2 cores, mostly modernc.org/sqlite; a no-op after).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SIM=v0.10.2
cache="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-llmdbench}"
bin="${SIM_BIN:-$cache/llm-d-inference-sim-$SIM}"
if [ ! -x "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  echo "building llm-d-inference-sim $SIM into $bin (several minutes the first time)" >&2
  start=$(date +%s)
  cd "$here"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim
  mv "$bin.tmp" "$bin"
  echo "built llm-d-inference-sim in $(( $(date +%s) - start ))s" >&2
fi
echo "$bin"
