#!/bin/sh
# Verify a signed build manifest written by scripts/sign-manifest.sh: first the
# SSH signature over the manifest, then every artefact's SHA-256 against it.
# Run from the directory the manifest's paths are relative to (the repo root).
#
#   scripts/verify-manifest.sh MANIFEST [ALLOWED_SIGNERS]
#
# ALLOWED_SIGNERS defaults to MANIFEST.allowed_signers, which only proves the
# manifest was not altered after signing by whoever made that key; pass a
# signers file you obtained separately (e.g. the key fingerprint published
# with the release) for provenance.
set -eu
MANIFEST=${1:?usage: verify-manifest.sh MANIFEST [ALLOWED_SIGNERS]}
SIGNERS=${2:-$MANIFEST.allowed_signers}
PRINCIPAL=${SIGNING_PRINCIPAL:-roamsim-ci}

ssh-keygen -Y verify -f "$SIGNERS" -I "$PRINCIPAL" -n file -s "$MANIFEST.sig" <"$MANIFEST"
sha256sum --strict -c "$MANIFEST"
echo "verify-manifest: OK ($(wc -l <"$MANIFEST") artefacts)"
