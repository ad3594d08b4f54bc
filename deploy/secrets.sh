#!/usr/bin/env bash
# Makes the secrets deploy/compose.yaml mounts, once, in deploy/secrets/ (or DIR):
#   deploy/secrets.sh [DIR]
# MongoDB's root user and password, the URLs the service uses (with those passwords), Redis's
# password (in its configuration), the master key file (one AES-256 key, k1), the Ed25519
# signing key, the playback link key (base64 of 32 random bytes), and one API token for the gateway (admin), printed once: only its SHA-256 is
# kept. Existing files are never overwritten. Each file is mode 0400 and, when run as root,
# owned by the user that reads it (65532 for lucid-sessions, 999 for Redis; MongoDB reads its
# secrets as root). Needs openssl and python3.
set -euo pipefail
# shellcheck source=deploy/require.sh
. "$(dirname "$0")/require.sh"
require_tools openssl:openssl python3:python3
DIR="${1:-$(dirname "$0")/secrets}"
mkdir -p "$DIR"
chmod 0700 "$DIR"
umask 077

make() {   # make NAME OWNER < content
  local path="$DIR/$1"
  if [ -e "$path" ]; then
    echo "secrets: $path exists, kept" >&2
    cat >/dev/null
    return
  fi
  cat > "$path"
  chmod 0400 "$path"
  if [ "$(id -u)" = "0" ]; then chown "$2:$2" "$path"; fi
  echo "secrets: $path" >&2
}
random() { openssl rand -hex 24; }

mongo_password="$(cat "$DIR/mongodb_root_password" 2>/dev/null || random)"
redis_password="$(sed -n 's/^requirepass //p' "$DIR/redis.conf" 2>/dev/null || true)"
redis_password="${redis_password:-$(random)}"

echo lucid | make mongodb_root_username 0
printf '%s\n' "$mongo_password" | make mongodb_root_password 0
printf 'mongodb://lucid:%s@lucid-mongodb:27017/lucid_sessions?authSource=admin\n' \
  "$mongo_password" | make mongodb_url 65532
printf 'redis://:%s@lucid-redis:6379/0\n' "$redis_password" | make redis_url 65532
printf 'requirepass %s\nsave ""\nappendonly no\nmaxmemory 64mb\nmaxmemory-policy allkeys-lru\n' \
  "$redis_password" | make redis.conf 999
printf 'current: k1\nkeys:\n  k1: %s\n' "$(openssl rand -base64 32)" | make master_keys.yaml 65532
openssl genpkey -algorithm ed25519 2>/dev/null | make signing_key.pem 65532
openssl rand -base64 32 | make link_key.b64 65532
if [ ! -e "$DIR/api_tokens.yaml" ]; then
  token="$(openssl rand -hex 32)"
  printf -- '- token_sha256: %s\n  principal: api-gateway\n  role: admin\n' \
    "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" | make api_tokens.yaml 65532
  echo "secrets: the gateway's token (shown once; only its SHA-256 is kept): $token" >&2
fi
