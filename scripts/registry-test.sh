#!/bin/sh
# Prove `make publish`: run Debian's docker-registry on loopback with a
# throwaway config and storage root, push IMAGE to it, check the catalog lists
# the repository (and the tag list the tag), then stop the registry.
#
#   scripts/registry-test.sh IMAGE REPO TAG [PORT]
set -eu
IMAGE=${1:?usage: registry-test.sh IMAGE REPO TAG [PORT]}
REPO=${2:?}
TAG=${3:?}
PORT=${4:-5000}
BUILDAH=${BUILDAH:-buildah --storage-driver vfs}
ADDR=127.0.0.1:$PORT

WORK=$(mktemp -d "${TMPDIR:-/tmp}/roamsim-registry.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1; then
  echo "registry-test: something already answers on $ADDR; choose REGISTRY_PORT=..." >&2
  exit 1
fi

cat >"$WORK/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/data
  delete:
    enabled: true
http:
  addr: $ADDR
CFG

docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
PID=$!
i=0
until curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 50 ] || ! kill -0 "$PID" 2>/dev/null; then
    echo "registry-test: the registry did not start:" >&2; cat "$WORK/registry.log" >&2; exit 1
  fi
  sleep 0.2
done
echo "registry-test: docker-registry listening on $ADDR"

$BUILDAH push --tls-verify=false "$IMAGE" "docker://$ADDR/$REPO:$TAG"

catalog=$(curl -fsS "http://$ADDR/v2/_catalog")
tags=$(curl -fsS "http://$ADDR/v2/$REPO/tags/list")
echo "registry-test: catalog $catalog; tags $tags"
echo "$catalog" | grep -q "\"$REPO\"" || { echo "registry-test: FAIL: $REPO not in the catalog" >&2; exit 1; }
echo "$tags" | grep -q "\"$TAG\"" || { echo "registry-test: FAIL: tag $TAG not listed" >&2; exit 1; }
echo "registry-test: OK (pushed $IMAGE as $ADDR/$REPO:$TAG)"
