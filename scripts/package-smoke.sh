#!/bin/sh
# Install one built distribution (wheel or sdist) into a fresh venv and
# smoke-run the CLI from it: --version, the bundled examples, a quickstart run.
#
#   scripts/package-smoke.sh PYTHON DIST_FILE VENV_DIR [EXPECTED_VERSION]
set -eu
PYTHON=${1:?usage: package-smoke.sh PYTHON DIST_FILE VENV_DIR [EXPECTED_VERSION]}
DIST=${2:?}
VENV=${3:?}
EXPECTED=${4:-}

fail() { echo "package smoke: FAIL ($DIST): $*" >&2; exit 1; }

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$DIST"

ver=$("$VENV/bin/roamsim" --version) || fail "roamsim --version exited $?"
[ -z "$EXPECTED" ] || [ "$ver" = "roamsim $EXPECTED" ] || fail "version '$ver', expected 'roamsim $EXPECTED'"
"$VENV/bin/python" -m roamsim --version >/dev/null || fail "python -m roamsim --version exited $?"

WORK="$VENV/smoke"
mkdir -p "$WORK"
"$VENV/bin/roamsim" examples quickstart --copy "$WORK" >/dev/null || fail "roamsim examples --copy exited $?"
"$VENV/bin/roamsim" validate "$WORK/quickstart.yaml" >/dev/null || fail "roamsim validate exited $?"
"$VENV/bin/roamsim" run "$WORK/quickstart.yaml" -o "$WORK/run" >/dev/null || fail "roamsim run exited $?"
for f in manifest.json kpis.json messages.parquet; do
  [ -s "$WORK/run/$f" ] || fail "the quickstart run wrote no $f"
done
echo "package smoke: OK ($(basename "$DIST"): $ver)"
