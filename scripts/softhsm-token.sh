#!/usr/bin/env bash
# Makes a SoftHSM2 token (a PKCS#11 token in software) to try keeping the service's keys in a
# token, and prints the settings that select it, ready for `eval`:
#   eval "$(bash scripts/softhsm-token.sh ~/lucid-token)"
#   ./run.sh serve
# FOLDER (made, 0700) holds the token's files, softhsm2.conf and the user PIN (pin, mode 0600).
# An existing token in FOLDER is kept (its settings are printed again). Installs softhsm2 with
# apt-get when it is missing and this runs as root; otherwise stops with one line saying how.
# SoftHSM2 keeps its keys in files under FOLDER: it is for trying and testing, not protection.
set -euo pipefail

say() { echo "softhsm-token: $*" >&2; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  say "usage: bash scripts/softhsm-token.sh FOLDER [TOKEN_LABEL]"
  exit 2
fi
folder="$1"
label="${2:-lucid}"
module=/usr/lib/softhsm/libsofthsm2.so

if ! command -v softhsm2-util >/dev/null 2>&1 || [ ! -f "$module" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing softhsm2 with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends softhsm2 \
      >/dev/null
  else
    say "softhsm2 is missing: run as root: apt-get install softhsm2"
    exit 1
  fi
fi

mkdir -p "$folder"
chmod 0700 "$folder"
folder="$(cd "$folder" && pwd)"
mkdir -p "$folder/tokens"
conf="$folder/softhsm2.conf"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$folder/tokens" >"$conf"
export SOFTHSM2_CONF="$conf"

if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label: *$label *$"; then
  umask 077
  pin="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  so_pin="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >/dev/null
  printf '%s\n' "$pin" >"$folder/pin"
  say "made token '$label' in $folder (user PIN in $folder/pin; the SO PIN is not kept)"
elif [ ! -f "$folder/pin" ]; then
  say "token '$label' exists in $folder but $folder/pin is gone: remove $folder and run again"
  exit 1
fi

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
printf 'export LUCID_KEY_STORE=pkcs11\n'
printf 'export LUCID_PKCS11_MODULE=%q\n' "$module"
printf 'export LUCID_PKCS11_TOKEN_LABEL=%q\n' "$label"
printf 'export LUCID_PKCS11_PIN_FILE=%q\n' "$folder/pin"
