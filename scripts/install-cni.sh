#!/bin/sh
# The agent's init container: puts this image's CNI plugins onto the host, e.g.
#   /opt/spiderpool/install-cni.sh /host/opt/cni/bin
# Each plugin is copied next to its destination and renamed over it, so kubelet never runs a half-copied
# plugin and replacing one that is running does not fail with "text file busy".
# The coordinator's probe tools (arping and ndisc6 with their own loader and libraries, cni/README.md) are
# unpacked beside the plugins and swapped in by renaming: a probe running meanwhile keeps the files it opened.
set -eu
dest="${1:?usage: install-cni.sh <host CNI bin directory>}"
plugins="$(dirname "$0")/plugins"
for plugin in spiderpool coordinator ifacer; do
  cp "$plugins/$plugin" "$dest/.$plugin.new"
  mv -f "$dest/.$plugin.new" "$dest/$plugin"
done
staged="$dest/.spiderpool-tools.new"
rm -rf "$staged" "$dest/.spiderpool-tools.old"
mkdir "$staged"
tar -xf "$plugins/spiderpool-tools.tar" -C "$staged"
if [ -d "$dest/spiderpool-tools" ]; then mv "$dest/spiderpool-tools" "$dest/.spiderpool-tools.old"; fi
mv "$staged/spiderpool-tools" "$dest/spiderpool-tools"
rm -rf "$staged" "$dest/.spiderpool-tools.old"
