#!/usr/bin/env bash
# Installs the real neighbours the tests and the sandbox talk to, from Debian's packages: a Prometheus
# server and promtool (scrapes, alert rules), arping and ndisc6 (ARP and NDP peers on simulated segments),
# tcpdump (captures announcements) and iptables (reply pinning). Skips what is already there.
set -euo pipefail
PACKAGES=(prometheus arping ndisc6 tcpdump iptables)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
run() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "[neighbours] installing Debian packages: ${missing[*]}" >&2
run apt-get update -qq
DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq "${missing[@]}" >/dev/null
