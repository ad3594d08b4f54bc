#!/usr/bin/env bash
# Every check CI runs: lint, format, types, layer contracts, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${LUCID_VENV:-.venv}/bin"

# Real servers and tools the tests start themselves (redis-server, Ceph's radosgw, chromium,
# the mongoeco wire server, ...): installed when missing, or the run stops naming them.
bash scripts/ensure-test-services.sh

echo "== ruff check";          "$BIN/ruff" check src tests bench deploy
echo "== ruff format --check"; "$BIN/ruff" format --check src tests bench deploy
echo "== mypy";                "$BIN/mypy"
echo "== import-linter";       "$BIN/lint-imports"
echo "== hadolint";            "$BIN/hadolint" Containerfile
echo "== shellcheck";          "$BIN/shellcheck" run.sh .ci/run scripts/*.sh deploy/*.sh
echo "== pytest";              "$BIN/python" -m pytest "$@"
