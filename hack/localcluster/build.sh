#!/usr/bin/env bash
# Builds the local control plane into a cache folder outside the repo and prints that folder:
# kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok (once per version set; one
# go build so the three Kubernetes binaries share compilation; a no-op after), and
# this project's localcluster program (rebuilt when its sources change, seconds).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S=v1.37.2 ETCD=v3.7.0 KWOK=v0.8.0
cache="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-llmdbench}"
# The -kcm-sched suffix names the binary set: a cache of the older apiserver-only set is not reused.
BIN="${LOCALCLUSTER_BIN:-$cache/localcluster-k8s-$K8S-etcd-$ETCD-kwok-$KWOK-kcm-sched}"
mkdir -p "$BIN"
cd "$here"
missing=
for b in kube-apiserver kube-controller-manager kube-scheduler etcd kwok; do
  [ -x "$BIN/$b" ] || missing=1
done
if [ -n "$missing" ]; then
  echo "building kube-apiserver, kube-controller-manager and kube-scheduler $K8S, etcd $ETCD and kwok $KWOK into $BIN (several minutes the first time)" >&2
  start=$(date +%s)
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$K8S" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
  go build -trimpath -ldflags "$ldflags" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler sigs.k8s.io/kwok/cmd/kwok ./cmd/etcd
  echo "built the control plane in $(( $(date +%s) - start ))s" >&2
fi
kwok_dir="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for crd in execs logs; do
  cp -f "$kwok_dir/kustomize/crd/bases/kwok.x-k8s.io_$crd.yaml" "$BIN/"
done
sum="$(cat go.sum build.sh cmd/localcluster/*.go cmd/localcluster/*.yaml | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN/localcluster" ] || [ "$(cat "$BIN/localcluster.sum" 2>/dev/null)" != "$sum" ]; then
  # Static: a pod's root (a chroot with busybox) can run it, e.g. `localcluster isolate` as a
  # pod's command.
  CGO_ENABLED=0 go build -o "$BIN/localcluster" ./cmd/localcluster
  echo "$sum" >"$BIN/localcluster.sum"
fi
echo "$BIN"
