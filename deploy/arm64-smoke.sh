#!/usr/bin/env bash
# The service on arm64 (a Raspberry Pi's architecture), here on an x86-64 machine:
#   deploy/arm64-smoke.sh     (about 10 minutes the first time: the arm64 root's emulated
#                              second stage takes 4-5 of them; then about 3)
# Turns on qemu's aarch64 emulation (binfmt_misc), then runs deploy/smoke.sh arm64: an arm64
# Debian 12 root made with debootstrap --foreign and its second stage under emulation (kept
# as a local image between runs), the image built on it from aarch64 wheels for CPython 3.11
# (nothing compiled), the service started under emulation read-only as 65532 and driven from
# the host (uploads, downloads, a completed and signed manifest, a restart), and a check that
# LUCID_CIPHER=auto chose the cipher that is faster there (ChaCha20-Poly1305 under qemu; on a
# Pi 4, which has no AES instructions, too).
# Needs root; installs what it needs when missing (podman, runc, buildah, debootstrap,
# qemu-user-static, binfmt-support; deploy/smoke.sh the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/require.sh
. deploy/require.sh
[ "$(id -u)" = "0" ] || { echo "arm64-smoke: run as root (binfmt_misc, podman): sudo $0" >&2; exit 1; }
if [ "$(dpkg --print-architecture)" != "arm64" ]; then
  require_tools podman:podman runc:runc buildah:buildah debootstrap:debootstrap \
    qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if ! grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    update-binfmts --enable qemu-aarch64
  fi
fi
exec bash deploy/smoke.sh arm64
