#!/usr/bin/env bash
# lucid-sessions developer entry point. Two commands on a fresh Debian 12 with Python 3.11:
#   ./run.sh serve   serve the API on the embedded default store (127.0.0.1:8113)
#   ./run.sh test    install what the tests need and run every check and test
set -euo pipefail
cd "$(dirname "$0")"

VENV="${LUCID_VENV:-.venv}"
PY="${PYTHON:-python3}"

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "run.sh: python3-venv is missing; installing it with apt-get" >&2
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        "$PY" -m venv "$VENV"
      else
        echo "run.sh: cannot create a virtualenv; install python3-venv (sudo apt-get install python3-venv)" >&2
        exit 1
      fi
    fi
  fi
}

# Reinstall only when the project's dependency files changed.
install() {
  local extras="$1" stamp="$VENV/.installed-$1"
  local digest
  digest="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".$extras"
    echo "$digest" > "$stamp"
  fi
}

case "${1:-}" in
  serve)
    shift
    ensure_venv
    install ""
    exec "$VENV/bin/lucid-sessions" serve "$@"
    ;;
  test)
    shift
    ensure_venv
    install "[test]"
    exec bash scripts/test.sh "$@"
    ;;
  *)
    echo "usage: ./run.sh serve [--host H] [--port P] | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
