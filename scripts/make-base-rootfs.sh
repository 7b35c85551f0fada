#!/bin/sh
# Build the container base layer: a Debian minbase root filesystem with python3
# and python3-venv, made with debootstrap from the machine's configured Debian
# mirror (scripts/debian-mirror.sh), packed as a tarball for
# `FROM scratch` + `ADD rootfs.tar /`.
#
#   scripts/make-base-rootfs.sh OUT.tar [SUITE]
#
# Reused when OUT.tar exists (delete it to rebuild). Needs root.
set -eu
OUT=${1:?usage: make-base-rootfs.sh OUT.tar [SUITE]}
SUITE=${2:-bookworm}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ -s "$OUT" ]; then
  echo "base rootfs: reusing $OUT"
  exit 0
fi
MIRROR=${DEBIAN_MIRROR:-$("$HERE/debian-mirror.sh" "$SUITE")}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/roamsim-rootfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ROOT="$WORK/rootfs"

echo "base rootfs: debootstrap --variant=minbase $SUITE from the configured apt mirror"
debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$ROOT" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }

# Slim it: package caches and indexes, docs, man pages, locales, logs.
rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* \
       "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
       "$ROOT"/usr/share/locale/* "$ROOT"/tmp/* "$ROOT"/var/tmp/* "$ROOT"/debootstrap
# The image must not point at this machine's mirror.
: >"$ROOT/etc/apt/sources.list"
find "$ROOT/usr/lib/python3" -name __pycache__ -type d -prune -exec rm -rf {} +

mkdir -p "$(dirname "$OUT")"
tar --numeric-owner -C "$ROOT" -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "base rootfs: wrote $OUT ($(du -h "$OUT" | cut -f1))"
