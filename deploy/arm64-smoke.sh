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
# Needs root and apt-get install podman runc debootstrap qemu-user-static binfmt-support.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(dpkg --print-architecture)" != "arm64" ]; then
  for tool in qemu-aarch64-static update-binfmts debootstrap podman; do
    command -v "$tool" >/dev/null || {
      echo "arm64-smoke: $tool is missing (apt-get install podman runc debootstrap" \
        "qemu-user-static binfmt-support)" >&2
      exit 1
    }
  done
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if ! grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    update-binfmts --enable qemu-aarch64
  fi
fi
exec bash deploy/smoke.sh arm64
