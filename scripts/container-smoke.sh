#!/bin/sh
# Smoke-test a built roamsim image without a container engine:
# `buildah from` it and `buildah run --isolation chroot` the CLI inside.
#
#   scripts/container-smoke.sh IMAGE [EXPECTED_VERSION]
#
# BUILDAH overrides the buildah command (default: buildah --storage-driver vfs).
set -eu
IMAGE=${1:?usage: container-smoke.sh IMAGE [EXPECTED_VERSION]}
EXPECTED=${2:-}
BUILDAH=${BUILDAH:-buildah --storage-driver vfs}

fail() { echo "container smoke: FAIL: $*" >&2; exit 1; }

# The image configuration: entrypoint, user, unbuffered Python.
cfg=$($BUILDAH inspect --type image \
  --format 'entrypoint={{.OCIv1.Config.Entrypoint}} user={{.OCIv1.Config.User}} env={{.OCIv1.Config.Env}}' "$IMAGE")
case "$cfg" in *"entrypoint=[roamsim] "*) ;; *) fail "entrypoint is not [\"roamsim\"]: $cfg" ;; esac
case "$cfg" in *" user=10001:10001 "*) ;; *) fail "image does not run as the unprivileged user: $cfg" ;; esac
case "$cfg" in *PYTHONUNBUFFERED=1*) ;; *) fail "PYTHONUNBUFFERED=1 is not set: $cfg" ;; esac

CTR=$($BUILDAH from --pull-never "$IMAGE")
trap '$BUILDAH rm "$CTR" >/dev/null 2>&1 || true' EXIT INT TERM
run() { $BUILDAH run --isolation chroot "$CTR" -- "$@"; }

uid=$(run id -u) || fail "id -u exited $?"
[ "$uid" != 0 ] || fail "the container runs as root"
echo "container smoke: runs as uid $uid"

ver=$(run roamsim --version) || fail "roamsim --version exited $?"
echo "container smoke: $ver"
case "$ver" in roamsim\ *) ;; *) fail "unexpected --version output: $ver" ;; esac
if [ -n "$EXPECTED" ] && [ "$ver" != "roamsim $EXPECTED" ]; then
  fail "version is '$ver', expected 'roamsim $EXPECTED'"
fi

run roamsim run /opt/roamsim/examples/quickstart.yaml -o /tmp/run || fail "roamsim run quickstart exited $?"
run sh -c 'test -s /tmp/run/manifest.json && test -s /tmp/run/kpis.json && test -s /tmp/run/messages.parquet' \
  || fail "the quickstart run left no manifest.json, kpis.json or messages.parquet"

# The compiled engine runs from the kernel compiled at build time (no 20 s compile on first use): the cache
# is used, not rewritten (on the machine that built the image; another CPU would recompile into it).
cache() { run sh -c 'ls -l --time-style=+%s /opt/roamsim/numba-cache/*/* | md5sum'; }
before=$(cache) || fail "no numba cache in the image"
run roamsim run /opt/roamsim/examples/s6a-hss-load.yaml --scale 0.01 --engine compiled -o /tmp/s6a \
  || fail "roamsim run s6a-hss-load --engine compiled exited $?"
run grep -q '"engine": "compiled"' /tmp/s6a/manifest.json || fail "the s6a example did not run compiled"
[ "$(cache)" = "$before" ] || fail "the compiled run rebuilt the kernel: the cache from the build was not used"
echo "container smoke: compiled engine run from the build's kernel cache"

# The examples bundled in the package are there too.
run roamsim examples quickstart --copy /tmp/examples >/dev/null || fail "roamsim examples --copy exited $?"
run roamsim validate /tmp/examples/quickstart.yaml >/dev/null || fail "roamsim validate exited $?"

# Bad input still gives the CLI's usage error code, not a crash.
set +e
run roamsim run /nonexistent.yaml -o /tmp/none >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "roamsim run on a missing file exited $rc, expected 2"

echo "container smoke: OK ($IMAGE)"
