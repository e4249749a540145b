#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from Debian's
# `kubernetes` source package and caches them outside the repository, keyed by the source version.
# Prints the cache directory on its last line. Safe to run repeatedly: a complete cache is reused.
set -euo pipefail

SRC_VERSION="1.20.5+really1.20.2"
CACHE_ROOT="${SPIDERPOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spiderpool-ts}"
BIN_DIR="$CACHE_ROOT/kubernetes-$SRC_VERSION/bin"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

log() { echo "[build-control-plane] $*" >&2; }

have_all() { for b in "${BINARIES[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debs() {
  local pkgs=(etcd-server golang-go golang-github-modern-go-reflect2-dev rsync make gcc
              containernetworking-plugins iproute2 iputils-ping arping dpkg-dev openssl)
  local missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
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

main() {
  install_debs
  if have_all; then log "cached binaries found"; echo "$BIN_DIR"; return; fi
  ensure_deb_src
  local work="$CACHE_ROOT/build"
  rm -rf "$work"; mkdir -p "$work"
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
  export GOPATH="$work/gopath" GO111MODULE=off GOFLAGS= GOCACHE="$CACHE_ROOT/gocache"
  mkdir -p "$BIN_DIR.partial"
  for b in "${BINARIES[@]}"; do
    log "building $b"
    go build -o "$BIN_DIR.partial/$b" "./cmd/$b"
  done
  rm -rf "$BIN_DIR"; mv "$BIN_DIR.partial" "$BIN_DIR"
  cd /; rm -rf "$work" "$CACHE_ROOT/gocache"
  log "binaries cached in $BIN_DIR"
  echo "$BIN_DIR"
}

main "$@"
