#!/usr/bin/env bash
# Stops what up.sh started in DIR (default .localcluster/ in the repo), by recorded process id,
# together with every process still running in a pod, and unmounts the pods' volumes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$here/../../.localcluster}"
[ -f "$dir/pids" ] || { echo "no local cluster runs in $dir" >&2; exit 0; }
bin="$("$here/build.sh")"
exec "$bin/localcluster" down "$dir"
