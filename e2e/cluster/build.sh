#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from Debian's
# `kubernetes` source package and caches them outside the repository, keyed by the source version.
# With --node it also provides what a real node runs: kubelet and kube-proxy from the same tree, the
# static pause binary from its build/pause/linux/pause.c, and Debian's containerd, runc, busybox-static
# and conntrack. Prints the cache directory on its last line. Safe to run repeatedly and concurrently:
# a complete cache is reused, and one build runs at a time.
set -euo pipefail

SRC_VERSION="1.20.5+really1.20.2"
CACHE_ROOT="${SPIDERPOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spiderpool-ts}"
BIN_DIR="$CACHE_ROOT/kubernetes-$SRC_VERSION/bin"
CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
NODE=(kubelet kube-proxy pause)

log() { echo "[build-control-plane] $*" >&2; }

missing_of() { for b in "$@"; do [ -x "$BIN_DIR/$b" ] || echo "$b"; done; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debs() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Source packages need a deb-src entry that mirrors the machine's own deb entry.
ensure_deb_src() {
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    log "adding a deb-src entry for bookworm main"
    local uri
    uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
    [ -n "$uri" ] || uri=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
      | sudo_if_needed tee /etc/apt/sources.list.d/spiderpool-ts-src.sources >/dev/null
    sudo_if_needed apt-get update -qq
  fi
}

# Unpacks and prepares the source tree in $1 and prints its path.
prepare_tree() {
  local work=$1
  cd "$work"
  log "downloading Debian source package kubernetes"
  apt-get source --download-only "kubernetes=$SRC_VERSION" >/dev/null 2>&1 || apt-get source --download-only kubernetes >/dev/null
  local orig
  orig=$(ls kubernetes_*.orig.tar.gz | head -1)
  mkdir -p gopath/src/k8s.io
  tar -xzf "$orig" -C gopath/src/k8s.io
  mv gopath/src/k8s.io/kubernetes-* gopath/src/k8s.io/kubernetes
  local tree="$work/gopath/src/k8s.io/kubernetes"
  # The vendored reflect2 1.0.1 crashes the apiserver on Go >= 1.18 (fatal error: fault on the first CR create).
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  find "$tree/vendor/github.com/modern-go/reflect2" -name '*_test.go' -delete
  cd "$tree"
  log "generating files (about 2 minutes)"
  make generated_files >"$work/generate.log" 2>&1 || { tail -30 "$work/generate.log" >&2; exit 1; }
  echo "$tree"
}

main() {
  local want=("${CONTROL_PLANE[@]}")
  local debs=(etcd-server golang-go golang-github-modern-go-reflect2-dev rsync make gcc libc6-dev
              containernetworking-plugins iproute2 iputils-ping arping dpkg-dev openssl)
  if [ "${1:-}" = --node ]; then
    want+=("${NODE[@]}")
    debs+=(containerd runc busybox-static conntrack iptables)
  fi
  install_debs "${debs[@]}"
  if [ -z "$(missing_of "${want[@]}")" ]; then echo "$BIN_DIR"; return; fi
  # A concurrent build may be providing them: wait for it, then look again.
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/build.lock"
  flock 9
  if [ -z "$(missing_of "${want[@]}")" ]; then echo "$BIN_DIR"; return; fi
  # One prepared tree serves every binary, so a build makes all that are missing, not only those asked for.
  local build=()
  mapfile -t build < <(missing_of "${CONTROL_PLANE[@]}" "${NODE[@]}")
  ensure_deb_src
  local work="$CACHE_ROOT/build"
  rm -rf "$work"; mkdir -p "$work" "$BIN_DIR"
  local tree
  tree=$(prepare_tree "$work")
  cd "$tree"
  export GOPATH="$work/gopath" GO111MODULE=off GOFLAGS= GOCACHE="$CACHE_ROOT/gocache"
  # Each binary appears under its name only when complete, so an interrupted build resumes where it stopped.
  for b in "${build[@]}"; do
    log "building $b"
    if [ "$b" = pause ]; then
      gcc -Os -Wall -Werror -static "-DVERSION=v$(sed -n 's/^TAG = //p' build/pause/Makefile)" -o "$BIN_DIR/$b.partial" build/pause/linux/pause.c
    else
      go build -o "$BIN_DIR/$b.partial" "./cmd/$b"
    fi
    mv "$BIN_DIR/$b.partial" "$BIN_DIR/$b"
  done
  cd /; rm -rf "$work" "$CACHE_ROOT/gocache"
  log "binaries cached in $BIN_DIR"
  echo "$BIN_DIR"
}

main "$@"
