#!/usr/bin/env bash
# make deb: a Debian package of what `make install PREFIX=/usr` puts on a machine, from a tree staged with
# DESTDIR (packaging/install.mjs). Its native addon (node_pcap) is built for this machine's Node.js major,
# so the package depends on that major; its maintainer scripts create the sluice user and the spool
# (systemd-sysusers, systemd-tmpfiles) as `make install`'s next step does by hand.
#
# usage: packaging/deb.sh STAGE OUT_DIR     prints the .deb's path
set -euo pipefail
stage=$(realpath "$1")
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$stage/usr/bin/sluice-master" ] || { echo "deb.sh: $stage is not an install staged with --prefix /usr" >&2; exit 1; }

# One version for the set: the highest of the published packages', and the commit count so that every
# build of a newer checkout sorts after the one before.
version=$(cd "$root" && node --input-type=module -e '
  import { publishedWorkspaces } from "./scripts/workspaces.mjs";
  const key = (v) => v.split(".").map(Number);
  const newer = (a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]; return false; };
  console.log(publishedWorkspaces().map((w) => w.manifest.version).reduce((a, b) => (newer(b, a) ? b : a)));
')
[ -n "$version" ] || { echo "deb.sh: no package version found" >&2; exit 1; }
(cd "$root" && git rev-parse --git-dir >/dev/null 2>&1) && version="$version+git$(git -C "$root" rev-list --count HEAD)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
arch=$(dpkg --print-architecture)

mkdir -p "$stage/DEBIAN" "$out"
cat >"$stage/DEBIAN/control" <<EOF
Package: sluice
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-Sluice <root@localhost>}
Depends: nodejs (>= 20.19), nodejs (<< $((node_major + 1))), libpcap0.8
Section: net
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: spread network traffic analysis over many sensors
 sluice-master captures traffic, cuts it into PCAP files and hands each to one
 node of every sensor pool and to every alone consumer (Arkime, storage);
 sluice-node replays delivered files into the interface Suricata and Zeek
 listen on; sluice-pcap inspects, verifies, converts and splits captures.
EOF
cat >"$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  systemd-sysusers sluice.conf
  systemd-tmpfiles --create sluice.conf
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
EOF
cat >"$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
EOF
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
deb="$out/sluice_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
rm -rf "$stage/DEBIAN"
echo "$deb"
