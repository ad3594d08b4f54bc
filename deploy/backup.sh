#!/usr/bin/env bash
# A backup of everything a restore needs, taken while the service runs:
#   deploy/backup.sh DATA_DIR ARCHIVE.tar [SECRETS_DIR]
#   MONGO_CONTAINER=lucid-mongodb deploy/backup.sh DATA_DIR ARCHIVE.tar SECRETS_DIR
# DATA_DIR is the folder holding sessions/ and chunks/ (the container's /app/data volume, or
# data/ of ./run.sh serve). In this order:
#   1. the database: the embedded SQLite store through SQLite's online backup (a consistent
#      copy while the service writes), or with MONGO_CONTAINER a mongodump of MongoDB (run in
#      that container with podman, or CONTAINER_ENGINE=docker);
#   2. the chunk store and the rest of DATA_DIR (development keys, when there are any): a blob
#      is written before the database names it and never changed after, so every chunk the
#      copied database names is in the archive;
#   3. SECRETS_DIR (deploy/secrets: the master keys, without which no chunk can be read, the
#      signing key, the tokens), when given.
# The session log lives in the database and is copied with it. The archive is a plain tar
# (chunks are encrypted, so compressing gains nothing), mode 0600: it holds keys.
# Restore with deploy/restore.sh.
set -euo pipefail
# shellcheck source=deploy/require.sh
. "$(dirname "$0")/require.sh"
require_tools python3:python3 tar:tar
[ $# -ge 2 ] || { echo "usage: deploy/backup.sh DATA_DIR ARCHIVE.tar [SECRETS_DIR]" >&2; exit 2; }
DATA="$1"
ARCHIVE="$2"
SECRETS="${3:-}"
[ -d "$DATA" ] || { echo "backup: $DATA is not a folder" >&2; exit 2; }
umask 077
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/data/sessions"

if [ -f "$DATA/sessions/sessions.sqlite3" ]; then
  python3 - "$DATA/sessions/sessions.sqlite3" "$STAGE/data/sessions/sessions.sqlite3" <<'PY'
import sqlite3
import sys

source = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=30)
target = sqlite3.connect(sys.argv[2])
source.backup(target)
(result,) = target.execute("PRAGMA integrity_check").fetchone()
if result != "ok":
    raise SystemExit(f"backup: the copied database fails its integrity check: {result}")
target.close()
source.close()
PY
  echo "backup: the embedded database (SQLite online backup)" >&2
fi
if [ -n "${MONGO_CONTAINER:-}" ]; then
  # shellcheck disable=SC2016  # expanded in the container
  "${CONTAINER_ENGINE:-podman}" exec "$MONGO_CONTAINER" sh -c 'exec mongodump --quiet \
    --archive --gzip --db lucid_sessions --authenticationDatabase admin \
    --username "$(cat /run/secrets/mongodb_root_username)" \
    --password "$(cat /run/secrets/mongodb_root_password)"' > "$STAGE/mongodb.archive.gz"
  echo "backup: MongoDB (mongodump in $MONGO_CONTAINER)" >&2
fi
if [ -n "$SECRETS" ]; then
  cp -a "$SECRETS" "$STAGE/secrets"
fi
# The staged database and secrets, then the live chunk store and the rest of DATA_DIR (blobs
# still being written, .*.tmp, are left out: none is acknowledged yet).
# The service goes on writing: new blobs appear and temporaries vanish while tar reads. A
# folder that changed, or a file gone before it was read, is expected (GNU tar's status 1);
# every blob the copied database names was complete before the copy began.
tar -cf "$ARCHIVE" -C "$STAGE" .
status=0
tar -rf "$ARCHIVE" -C "$DATA" --exclude='./sessions/sessions.sqlite3*' --exclude='.*.tmp' \
  --warning=no-file-changed --warning=no-file-removed --ignore-failed-read \
  --transform='s,^\.,./data,' . || status=$?
if [ "$status" -gt 1 ]; then
  echo "backup: tar failed (status $status); the archive is incomplete" >&2
  exit "$status"
fi
echo "backup: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))" >&2
