#!/usr/bin/env bash
# Every check CI runs: lint, format, types, layer contracts, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${LUCID_VENV:-.venv}/bin"

# Real servers the tests start themselves (redis-server from Debian, the mongoeco wire server).
if [ -x scripts/ensure-test-services.sh ]; then bash scripts/ensure-test-services.sh; fi

echo "== ruff check";          "$BIN/ruff" check src tests bench deploy
echo "== ruff format --check"; "$BIN/ruff" format --check src tests bench deploy
echo "== mypy";                "$BIN/mypy"
echo "== import-linter";       "$BIN/lint-imports"
echo "== hadolint";            "$BIN/hadolint" Containerfile
echo "== shellcheck";          "$BIN/shellcheck" run.sh .ci/run scripts/*.sh deploy/*.sh
echo "== pytest";              "$BIN/python" -m pytest "$@"
