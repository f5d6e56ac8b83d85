#!/usr/bin/env bash
# Builds (or reuses) the Debian sid root file system that carries Asterisk and SIPp for the testbed.
#
# The root file system is cached outside the repository, keyed by a hash of the package list and
# this script, so a second `make test` reuses it. The Debian mirror is read from this machine's own
# apt sources at run time; no mirror host is ever written into the repository.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
packages_file="$here/packages.txt"
cache_root="${CALLCENTER_TESTBED_CACHE:-/var/cache/callcenter-testbed}"

packages="$(grep -v '^\s*#' "$packages_file" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')"
key="$(cat "$packages_file" "$0" | sha256sum | cut -c1-16)"
rootfs="$cache_root/rootfs-$key"

if [ -f "$rootfs/.complete" ]; then
  echo "$rootfs"
  exit 0
fi

mirror_from_apt_sources() {
  local uri=""
  # deb822 sources first (Debian 12+), then the one-line format.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}' "$f")"
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' \
      | head -n 1)"
  fi
  echo "$uri"
}

mirror="${CALLCENTER_DEBIAN_MIRROR:-$(mirror_from_apt_sources)}"
if [ -z "$mirror" ]; then
  echo "build_rootfs: no Debian mirror found in /etc/apt/sources*; set CALLCENTER_DEBIAN_MIRROR" >&2
  exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build_rootfs: installing debootstrap" >&2
  apt-get update -qq >&2
  apt-get install -y -qq debootstrap >&2
fi

mkdir -p "$cache_root"
tmp="$cache_root/.building-$key-$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "build_rootfs: debootstrap sid into $tmp (packages: $packages)" >&2
# sid carries Asterisk 22.x; bookworm has no Asterisk package at all.
debootstrap --variant=minbase --include="$packages" sid "$tmp" "$mirror" >&2
rm -rf "$tmp/var/cache/apt/archives/"*.deb
touch "$tmp/.complete"
mv "$tmp" "$rootfs"
trap - EXIT
# Older roots with a different package list are no longer needed, except the newest other one
# (another checkout on this machine may be on the previous package list) and any root in use
# (a testbed running from it has its /proc mounted there).
kept=0
for old in $(ls -1dt "$cache_root"/rootfs-* 2>/dev/null); do
  [ "$old" = "$rootfs" ] && continue
  if grep -q " $old/" /proc/mounts; then continue; fi
  if [ "$kept" -lt 1 ]; then kept=1; continue; fi
  rm -rf "$old"
done
echo "$rootfs"
