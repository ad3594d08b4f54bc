#!/usr/bin/env bash
# Fills deploy/wheels/ARCH/ with every wheel the image installs, for the runtime's interpreter
# (CPython 3.11.2 of Debian 12 and distroless) on ARCH: the project's own wheel, its runtime
# dependencies pinned by constraints.txt (binary wheels only: nothing is compiled on a Pi),
# async-timeout (redis needs it below Python 3.11.3: pip judges markers by the Python it runs
# on, not by --python-version), and pip itself (Debian's python3 has none). An air-gapped site
# builds from this folder.
#   deploy/wheels.sh [amd64|arm64]     (default: the host's architecture)
#   WHEELS_OUT=DIR deploy/wheels.sh arm64     (into DIR instead of deploy/wheels/ARCH)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/require.sh
. deploy/require.sh
[ -n "${PIP:-}" ] || require_venv
ARCH="${1:-$(dpkg --print-architecture)}"
case "$ARCH" in
  amd64) PLATFORM=x86_64 ;;
  arm64) PLATFORM=aarch64 ;;
  *) echo "wheels: unknown architecture $ARCH" >&2; exit 2 ;;
esac
PIP="${PIP:-.venv/bin/pip}"
OUT="${WHEELS_OUT:-deploy/wheels/$ARCH}"
rm -rf "$OUT"
mkdir -p "$OUT"
"$PIP" wheel --quiet --no-deps --wheel-dir "$OUT" .
# glibc 2.36 (Debian 12) runs every manylinux wheel up to 2.36; pip wants each tag named.
PLATFORMS=(--platform "manylinux2014_$PLATFORM")
for minor in $(seq 17 36); do PLATFORMS+=(--platform "manylinux_2_${minor}_$PLATFORM"); done
"$PIP" download --quiet --dest "$OUT" --constraint constraints.txt \
  --only-binary=:all: --implementation cp --python-version 3.11.2 --abi cp311 "${PLATFORMS[@]}" \
  "$OUT"/lucid_sessions-*.whl async-timeout pip
echo "$OUT: $(find "$OUT" -name "*.whl" | wc -l) wheels"
