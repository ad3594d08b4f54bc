#!/usr/bin/env bash
# Installs what the tests need to start real database servers themselves (idempotent):
#   - redis-server, chromium, prometheus (promtool), wrk, openssl, softhsm2 (a PKCS#11 token in
#     software) and Ceph's RADOS Gateway (radosgw, ceph-mon, ceph-osd, ceph-common: a real S3
#     server) from Debian (apt-get, when missing and running as root);
#   - .venv-mongoeco: Python >= 3.13 with mongoeco[wire] (a MongoDB wire-protocol server) and
#     pymongo, pinned below; recreated only when the pins or the interpreter change.
# Every component is required: what cannot be had is named, one line each, and the script
# exits 1, so `./run.sh test` stops before it starts. A developer may allow components to be
# missing for a quick local run: LUCID_TEST_ALLOW_MISSING=redis,s3 (or all; names as in
# tests/components.py); their tests then skip and the run's last line says so.
# Python 3.13 is looked up as: $LUCID_PYTHON313, pyenv's 3.13+ versions, python3.13/python3.14
# on PATH.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

say() { echo "ensure-test-services: $*" >&2; }

MISSING=()
# missing COMPONENT MESSAGE: record that a component cannot be had (allowed or not).
missing() {
  local allowed=",${LUCID_TEST_ALLOW_MISSING:-}," component="$1"
  shift
  allowed="${allowed// /}"
  if [[ "$allowed" == *",all,"* || "$allowed" == *",$component,"* ]]; then
    say "$* (allowed by LUCID_TEST_ALLOW_MISSING: its tests will skip)"
  else
    MISSING+=("$component: $*")
  fi
}

# -- redis-server ------------------------------------------------------------------------------
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
  :
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing redis-server with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends redis-server >/dev/null; }; then
    missing redis "could not install redis-server with apt-get"
  fi
else
  missing redis "redis-server is missing and cannot be installed here (need root and" \
      "apt-get): sudo apt-get install redis-server"
fi

# -- chromium (the offline docs page test) ----------------------------------------------------
if command -v chromium >/dev/null 2>&1; then
  :
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing chromium with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium >/dev/null; }; then
    missing chromium "could not install chromium with apt-get"
  fi
else
  missing chromium "chromium is missing and cannot be installed here: sudo apt-get install chromium"
fi

# -- promtool, wrk and openssl (the metrics exposition check; the API benchmark; the compose
# secrets script) ------------------------------------------------------------------------------
for tool in promtool:prometheus wrk:wrk openssl:openssl; do
  command_name="${tool%%:*}" package="${tool##*:}"
  if command -v "$command_name" >/dev/null 2>&1; then
    :
  elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing $package (for $command_name) with apt-get"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "$package" >/dev/null; }; then
      missing "$command_name" "could not install $package (for $command_name) with apt-get"
    fi
  else
    missing "$command_name" "$command_name is missing and cannot be installed here:" \
        "sudo apt-get install $package"
  fi
done

# -- softhsm2 (a PKCS#11 token in software: the key ring's keys in hardware; tests/softhsm.py) --
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
if command -v softhsm2-util >/dev/null 2>&1 && [ -f "$SOFTHSM_MODULE" ]; then
  :
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing softhsm2 with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends softhsm2 >/dev/null && [ -f "$SOFTHSM_MODULE" ]; }; then
    missing softhsm2 "could not install softhsm2 with apt-get"
  fi
else
  missing softhsm2 "softhsm2 is missing and cannot be installed here: sudo apt-get install softhsm2"
fi

# -- Ceph's RADOS Gateway (a real S3 server; tests/servers_s3.py starts a throwaway cluster) --
if command -v radosgw >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1; then
  :
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing radosgw, ceph-mon, ceph-osd and ceph-common with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends radosgw ceph-mon ceph-osd ceph-common >/dev/null; }; then
    missing s3 "could not install Ceph's radosgw with apt-get"
  fi
else
  missing s3 "radosgw is missing and cannot be installed here:" \
      "sudo apt-get install radosgw ceph-mon ceph-osd ceph-common"
fi

# -- mongoeco ----------------------------------------------------------------------------------
VENV="${LUCID_MONGOECO_VENV:-.venv-mongoeco}"
PINS="mongoeco[wire]==4.11.0
pymongo==4.20.1
attrs==26.1.0
cxp==5.0.0
dnspython==2.9.2
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
msgspec==0.22.0
numkong==7.8.6
numpy==2.5.5
pyuca==1.2
referencing==0.37.0
rfc8785==0.1.4
rpds-py==2026.9.1
shapely==2.2.0
tqdm==4.70.1
usearch==2.26.6"

is_313() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; }

find_python313() {
  local candidate version
  if is_313 "${LUCID_PYTHON313:-}"; then echo "$LUCID_PYTHON313"; return 0; fi
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[3-9]|[2-9][0-9])(\.|$)' | sort -rV); do
      candidate="$(PYENV_VERSION="$version" pyenv which python3 2>/dev/null)"
      if is_313 "$candidate"; then echo "$candidate"; return 0; fi
    done
  fi
  for candidate in python3.13 python3.14 python3; do
    candidate="$(command -v "$candidate" 2>/dev/null)"
    if is_313 "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

ensure_mongoeco() {
PY313="$(find_python313)"
if [ -z "$PY313" ]; then
  missing mongo "no Python >= 3.13 found for the MongoDB wire server (set LUCID_PYTHON313," \
      "or install one with pyenv)"
  return 0
fi

STAMP="$VENV/.lucid-pins"
WANT="$("$PY313" -c 'import sys; print(sys.version.split()[0])') $(printf '%s' "$PINS" | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  return 0
fi

say "preparing $VENV (mongoeco wire server) with $PY313"
rm -rf "$VENV"
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
printf '%s\n' "$PINS" | sed 's/\[wire\]//' >"$CONSTRAINTS"
if "$PY313" -m venv "$VENV" \
  && "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
       -c "$CONSTRAINTS" "mongoeco[wire]==4.11.0" "pymongo==4.20.1" \
  && "$VENV/bin/python" -c 'import mongoeco.wire.proxy, pymongo'; then
  echo "$WANT" >"$STAMP"
else
  missing mongo "could not prepare $VENV (mongoeco[wire] with $PY313)"
  rm -rf "$VENV"
fi
}
ensure_mongoeco

if [ "${#MISSING[@]}" -gt 0 ]; then
  for line in "${MISSING[@]}"; do say "required component missing: $line"; done
  say "(for a quick local run without them: LUCID_TEST_ALLOW_MISSING=<names>, or all)"
  exit 1
fi
exit 0
