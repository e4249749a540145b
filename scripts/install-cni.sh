#!/bin/sh
# The agent's init container: puts this image's CNI plugins onto the host, e.g.
#   /opt/spiderpool/install-cni.sh /host/opt/cni/bin
# Each plugin is copied next to its destination and renamed over it, so kubelet never runs a half-copied
# plugin and replacing one that is running does not fail with "text file busy".
set -eu
dest="${1:?usage: install-cni.sh <host CNI bin directory>}"
plugins="$(dirname "$0")/plugins"
for plugin in spiderpool coordinator; do
  cp "$plugins/$plugin" "$dest/.$plugin.new"
  mv -f "$dest/.$plugin.new" "$dest/$plugin"
done
