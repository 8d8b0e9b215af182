#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when they are missing: busybox-static gives
# every fake pod root of the local control plane a shell, tar and coreutils; chromium renders the
# HTML report in its browser test (test/e2e/report).
set -euo pipefail
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${need[*]} (install them as root: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing ${need[*]}" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
