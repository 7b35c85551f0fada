#!/bin/sh
# Write a build manifest (SHA-256 of every artefact, `sha256sum` format, paths
# relative to the repository root) and sign it with an SSH signature
# (`ssh-keygen -Y sign`, namespace "file").
#
#   scripts/sign-manifest.sh MANIFEST FILE...
#
# The key is SIGNING_KEY (an ed25519 private key file) if set; otherwise an
# ephemeral key is generated, used once and deleted, and only its public half
# is kept. Writes MANIFEST, MANIFEST.sig and MANIFEST.allowed_signers
# (principal "roamsim-ci"). Verify with scripts/verify-manifest.sh MANIFEST.
set -eu
MANIFEST=${1:?usage: sign-manifest.sh MANIFEST FILE...}
shift
[ $# -gt 0 ] || { echo "sign-manifest: no artefacts given" >&2; exit 1; }
PRINCIPAL=${SIGNING_PRINCIPAL:-roamsim-ci}

for f in "$@"; do [ -f "$f" ] || { echo "sign-manifest: missing artefact $f" >&2; exit 1; }; done
mkdir -p "$(dirname "$MANIFEST")"
sha256sum -- "$@" >"$MANIFEST.tmp"
mv "$MANIFEST.tmp" "$MANIFEST"

KEYDIR=$(mktemp -d "${TMPDIR:-/tmp}/roamsim-sign.XXXXXX")
trap 'rm -rf "$KEYDIR"' EXIT INT TERM
if [ -n "${SIGNING_KEY:-}" ]; then
  KEY=$SIGNING_KEY
  PUB=$(ssh-keygen -y -f "$KEY")
else
  KEY="$KEYDIR/key"
  ssh-keygen -q -t ed25519 -N '' -C "$PRINCIPAL ephemeral $(date -u +%Y-%m-%dT%H:%M:%SZ)" -f "$KEY"
  PUB=$(cat "$KEY.pub")
fi
rm -f "$MANIFEST.sig"
ssh-keygen -q -Y sign -f "$KEY" -n file "$MANIFEST"
printf '%s namespaces="file" %s\n' "$PRINCIPAL" "$PUB" >"$MANIFEST.allowed_signers"
echo "sign-manifest: $MANIFEST ($(wc -l <"$MANIFEST") artefacts), signature $MANIFEST.sig"
echo "$PUB" >"$KEYDIR/signer.pub"
echo "sign-manifest: signing key $(ssh-keygen -l -f "$KEYDIR/signer.pub" | cut -d' ' -f2)"
