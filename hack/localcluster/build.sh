#!/usr/bin/env bash
# Builds the local control plane into a cache folder outside the repo and prints that folder:
# kube-apiserver, etcd and kwok (once per version set; ~7 min cold on 2 cores, a no-op after), and
# this project's localcluster program (rebuilt when its sources change, seconds).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S=v1.37.2 ETCD=v3.7.0 KWOK=v0.8.0
cache="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-llmdbench}"
BIN="${LOCALCLUSTER_BIN:-$cache/localcluster-k8s-$K8S-etcd-$ETCD-kwok-$KWOK}"
mkdir -p "$BIN"
cd "$here"
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/etcd" ] || [ ! -x "$BIN/kwok" ]; then
  echo "building kube-apiserver $K8S, etcd $ETCD and kwok $KWOK into $BIN (several minutes the first time)" >&2
  start=$(date +%s)
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$K8S" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
  go build -trimpath -ldflags "$ldflags" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver sigs.k8s.io/kwok/cmd/kwok ./cmd/etcd
  echo "built the control plane in $(( $(date +%s) - start ))s" >&2
fi
kwok_dir="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for crd in execs logs; do
  cp -f "$kwok_dir/kustomize/crd/bases/kwok.x-k8s.io_$crd.yaml" "$BIN/"
done
sum="$(cat go.sum cmd/localcluster/*.go cmd/localcluster/*.yaml | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN/localcluster" ] || [ "$(cat "$BIN/localcluster.sum" 2>/dev/null)" != "$sum" ]; then
  go build -o "$BIN/localcluster" ./cmd/localcluster
  echo "$sum" >"$BIN/localcluster.sum"
fi
echo "$BIN"
