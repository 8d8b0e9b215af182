#!/usr/bin/env bash
# Starts the local control plane (etcd, kube-apiserver, kwok, the node agent) on loopback in the
# background. DIR defaults to .localcluster/ in the repo. Then: source DIR/env; kubectl get nodes
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$here/../../.localcluster}"
"$here/../install-deps.sh"
bin="$("$here/build.sh")"
mkdir -p "$dir"
exec "$bin/localcluster" up "$dir"
