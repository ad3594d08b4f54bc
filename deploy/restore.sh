#!/usr/bin/env bash
# Restores an archive of deploy/backup.sh, with the service stopped:
#   deploy/restore.sh ARCHIVE.tar DATA_DIR [SECRETS_DIR]
#   MONGO_CONTAINER=lucid-mongodb deploy/restore.sh ARCHIVE.tar DATA_DIR SECRETS_DIR
# DATA_DIR must be empty or missing (move the old one aside: nothing is overwritten). The
# database, chunks and development keys go to DATA_DIR (owned by 65532 when run as root, the
# container's user); the secrets, when the archive has them and SECRETS_DIR is given, to
# SECRETS_DIR; a MongoDB dump is loaded into MONGO_CONTAINER with mongorestore --drop.
# Then start the service and check a session with `lucid-sessions verify SESSION_ID`.
set -euo pipefail
# shellcheck source=deploy/require.sh
. "$(dirname "$0")/require.sh"
require_tools tar:tar
[ $# -ge 2 ] || { echo "usage: deploy/restore.sh ARCHIVE.tar DATA_DIR [SECRETS_DIR]" >&2; exit 2; }
ARCHIVE="$1"
DATA="$2"
SECRETS="${3:-}"
if [ -d "$DATA" ] && [ -n "$(find "$DATA" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
  echo "restore: $DATA is not empty; move it aside first (nothing is overwritten)" >&2
  exit 2
fi
umask 077
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
tar -xf "$ARCHIVE" -C "$STAGE"
mkdir -p "$DATA"
cp -a "$STAGE/data/." "$DATA/"
if [ "$(id -u)" = "0" ]; then chown -R 65532:65532 "$DATA"; fi
echo "restore: $DATA" >&2
if [ -d "$STAGE/secrets" ] && [ -n "$SECRETS" ]; then
  if [ -e "$SECRETS" ]; then
    echo "restore: $SECRETS exists; the archive's secrets are left in it unrestored" >&2
    exit 2
  fi
  cp -a "$STAGE/secrets" "$SECRETS"
  echo "restore: $SECRETS" >&2
fi
if [ -f "$STAGE/mongodb.archive.gz" ]; then
  [ -n "${MONGO_CONTAINER:-}" ] || { echo "restore: the archive holds a MongoDB dump; set MONGO_CONTAINER" >&2; exit 2; }
  # shellcheck disable=SC2016  # expanded in the container
  "${CONTAINER_ENGINE:-podman}" exec -i "$MONGO_CONTAINER" sh -c 'exec mongorestore --quiet \
    --archive --gzip --drop --authenticationDatabase admin \
    --username "$(cat /run/secrets/mongodb_root_username)" \
    --password "$(cat /run/secrets/mongodb_root_password)"' < "$STAGE/mongodb.archive.gz"
  echo "restore: MongoDB (mongorestore in $MONGO_CONTAINER)" >&2
fi
