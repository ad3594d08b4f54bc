#!/usr/bin/env bash
# Builds local stand-ins for the two base images of the Containerfile when no registry can be
# reached, and prints their names (builder first, then runtime):
#   localhost/lucid-bookworm-python3:ARCH     Debian 12 (bookworm) minbase with Debian's python3
#                                             (3.11.2, the interpreter of distroless): the builder
#   localhost/lucid-distroless-python3:ARCH   only the files of the packages distroless
#                                             python3-debian12 ships (glibc, OpenSSL, the C++
#                                             runtime, Python 3.11 and its libraries, dash), the
#                                             users root and nonroot (65532): the runtime, at
#                                             about the size of the real one
#   deploy/local-base.sh [amd64|arm64]     (default: the host's architecture)
# Kept between runs: existing images are reused. Needs root; installs debootstrap, podman and
# runc when they are missing (deploy/arm64-smoke.sh adds qemu-user-static and binfmt-support).
set -euo pipefail
# shellcheck source=deploy/require.sh
. "$(dirname "$0")/require.sh"
require_tools podman:podman runc:runc debootstrap:debootstrap
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"
ARCH="${1:-$(dpkg --print-architecture)}"
BUILDER="localhost/lucid-bookworm-python3:$ARCH"
RUNTIME="localhost/lucid-distroless-python3:$ARCH"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The packages of gcr.io/distroless/python3-debian12 (its base, cc and python3 layers) that a
# bookworm minbase with python3 holds; tzdata, netbase and libgomp1 are not in it and the
# service needs none of them.
PACKAGES=(base-files libc6 libc-bin libssl3 ca-certificates libgcc-s1 libstdc++6 gcc-12-base
  dash libbz2-1.0 libcom-err2 libcrypt1 libdb5.3 libexpat1 libffi8 libgssapi-krb5-2
  libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 liblzma5 libncursesw6 libnsl2
  libpython3.11-minimal libpython3.11-stdlib libreadline8 libsqlite3-0 libtinfo6 libtirpc3
  libtirpc-common libuuid1 python3.11-minimal zlib1g media-types)
WORK="$(mktemp -d /tmp/lucid-base-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

if ! podman image exists "$BUILDER"; then
  ROOT="$WORK/root"
  echo "local-base: debootstrap bookworm ($ARCH) into $ROOT" >&2
  if [ "$ARCH" = "$(dpkg --print-architecture)" ]; then
    debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$ROOT" \
      "$MIRROR" >&2
  else
    debootstrap --variant=minbase --arch="$ARCH" --foreign --include=python3,ca-certificates \
      bookworm "$ROOT" "$MIRROR" >&2
    chroot "$ROOT" /debootstrap/debootstrap --second-stage >&2
  fi
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
  tar -C "$ROOT" -c . | podman import --arch "$ARCH" - "$BUILDER" >&2
  rm -rf "$ROOT"
fi

if ! podman image exists "$RUNTIME"; then
  echo "local-base: $RUNTIME from the files of ${#PACKAGES[@]} packages of $BUILDER" >&2
  ROOT="$WORK/full"
  OUT="$WORK/runtime"
  mkdir -p "$ROOT" "$OUT"
  container="$(podman create --arch "$ARCH" "$BUILDER" /bin/true)"
  podman export "$container" | tar -C "$ROOT" -x
  podman rm "$container" >/dev/null
  for package in "${PACKAGES[@]}"; do
    list=""
    for candidate in "$ROOT/var/lib/dpkg/info/$package"{,:"$ARCH"}.list; do
      if [ -f "$candidate" ]; then list="$candidate"; fi
    done
    [ -n "$list" ] || { echo "local-base: $package is not in $BUILDER" >&2; exit 1; }
    # Files and links only (directories come with them). Debian 12 is merged-/usr: dpkg lists
    # /bin, /lib, /lib64 and /sbin, which are links into /usr.
    while IFS= read -r path; do
      case "$path" in /bin/* | /sbin/* | /lib/* | /lib64/*) path="/usr$path" ;; esac
      if [ -L "$ROOT$path" ] || [ -f "$ROOT$path" ]; then echo ".$path"; fi
    done < "$list"
  done | sort -u | tar -C "$ROOT" -c --no-recursion -T - | tar -C "$OUT" -x
  for link in bin lib lib64 sbin; do
    if [ -L "$ROOT/$link" ]; then cp -P "$ROOT/$link" "$OUT/$link"; fi
  done
  rm -rf "$OUT"/usr/share/doc "$OUT"/usr/share/man "$OUT"/usr/share/info "$OUT"/usr/share/lintian
  mkdir -p "$OUT"/etc "$OUT"/tmp "$OUT"/home/nonroot "$OUT"/root
  chmod 1777 "$OUT"/tmp
  chown 65532:65532 "$OUT"/home/nonroot
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    > "$OUT"/etc/passwd
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$OUT"/etc/group
  mkdir -p "$OUT"/etc/ssl/certs
  cp "$ROOT"/etc/ssl/certs/ca-certificates.crt "$OUT"/etc/ssl/certs/
  tar -C "$OUT" -c . | podman import --arch "$ARCH" - "$RUNTIME" >&2
fi
echo "$BUILDER"
echo "$RUNTIME"
