#!/usr/bin/env bash
# Proves the image archive works as a launcher would use it: unpacks its layer into a root and
# runs, as the image's non-root user, the plugin and the commands the run script relies on.
set -euo pipefail
archive=${1:?usage: hack/verify-image.sh IMAGE.tar}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/archive" "$work/root"
tar -xf "$archive" -C "$work/archive"
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][0])' "$work/archive/manifest.json")
user=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json"))[0]; print(json.load(open(sys.argv[1]+"/"+m["Config"]))["config"]["User"])' "$work/archive")
tar -xzf "$work/archive/$layer" -C "$work/root" --numeric-owner
# What every container runtime provides.
mkdir -p "$work/root/dev" && mknod -m 666 "$work/root/dev/null" c 1 3
out=$(chroot --userspec="$user" "$work/root" /bin/sh -c '
  set -e
  kubectl-llmdbench version -o json
  kubectl-llmdbench loadgen --help >/dev/null
  mkdir -p /workspace/check && echo ok | tee /tmp/check >/dev/null
  setsid true && date +%s >/dev/null && sed -n 1p /tmp/check && id -u')
echo "$out" | grep -q '"version"' || { echo "image: the plugin did not run: $out" >&2; exit 1; }
[ "$(echo "$out" | tail -1)" = 65532 ] || { echo "image: not running as 65532: $out" >&2; exit 1; }
echo "$archive: runs as $user; $(echo "$out" | grep '"version"' | tr -d ' ,')"
