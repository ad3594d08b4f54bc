#!/usr/bin/env bash
# Sourced by the deploy commands: what they need is installed when they run as root, or they
# stop with one line saying what is missing and how to get it.
#   require_tools CMD:DEBIAN_PACKAGE ...   commands on the PATH
#   require_venv                           .venv with the project and httpx (the smoke's client)

apt_install() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "deploy: installing $* with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "deploy: $* missing; run this as root to install, or: sudo apt-get install $*" >&2
    exit 1
  fi
}

require_tools() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

require_venv() {
  local venv="${LUCID_VENV:-.venv}"
  if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import httpx, lucid_sessions" >/dev/null 2>&1; then
    echo "deploy: installing the project and httpx into $venv" >&2
    "$venv/bin/python" -m pip install -q -c constraints.txt -e . httpx
  fi
}
