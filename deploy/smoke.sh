#!/usr/bin/env bash
# The container, built here and run hardened as on the Pi, proven end to end:
#   deploy/smoke.sh [amd64|arm64]   (default: the host's architecture; about 1 minute on the
#                                    host's once the local bases exist, 2 the first time;
#                                    arm64 runs under emulation: deploy/arm64-smoke.sh)
#
# 1. builds the image from the Containerfile on local bases (deploy/local-base.sh: Debian 12
#    with its Python 3.11.2 to build, and a runtime of only the packages distroless
#    python3-debian12 ships) and from host wheels (deploy/wheels.sh), as an air-gapped site
#    would: no registry is needed;
# 2. runs it read-only as user 65532, with /tmp on tmpfs, every capability dropped,
#    no-new-privileges, and only the data volume writable;
# 3. waits for /health, then with a configured token creates a session, uploads chunks,
#    downloads them (each and the whole recording), checks the bytes and the signed manifest;
# 4. rotates the master key with `keys rotate` in the running container, restarts it and
#    checks it all again;
# 5. checks that LUCID_CIPHER=auto chose the cipher that is faster on this CPU, as measured
#    again in the container (under qemu, AES-GCM runs ten times slower than ChaCha20);
# 6. stops it with SIGTERM: exit code 0, every log line JSON, no secret in the logs.
# Needs root (for podman and debootstrap); installs what it needs when missing (podman, runc,
# buildah, debootstrap, and the project's .venv for the wheels and the journey's HTTP client).
# Exit status 0: everything held.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/require.sh
. deploy/require.sh
[ "$(id -u)" = "0" ] || { echo "smoke: run as root (podman and debootstrap need it): sudo $0 $*" >&2; exit 1; }
require_tools podman:podman runc:runc buildah:buildah debootstrap:debootstrap
require_venv
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"
PYTHON="${PYTHON:-.venv/bin/python}"
ARCH="${1:-$(dpkg --print-architecture)}"
IMAGE="localhost/lucid-session-api:smoke-$ARCH"
NAME="lucid-smoke-$$"
TOKEN="smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
say() { echo "smoke: $*" >&2; }
# Without systemd (a sandbox) podman says on every start and stop that it cannot schedule the
# HEALTHCHECK; the check is run by hand below, so those lines are dropped.
quiet() { "$@" 2> >(grep -v 'systemd' >&2); }

mapfile -t BASES < <(deploy/local-base.sh "$ARCH")
deploy/wheels.sh "$ARCH" >&2
say "building $IMAGE on ${BASES[1]} (builder ${BASES[0]})"
started=$(date +%s)
podman build --quiet --platform "linux/$ARCH" --format docker --build-arg "BUILDER_IMAGE=${BASES[0]}" \
  --build-arg "RUNTIME_IMAGE=${BASES[1]}" --build-arg "TARGETARCH=$ARCH" \
  -t "$IMAGE" -f Containerfile . >/dev/null
mb() { podman image inspect "$1" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'; }
packages="$(quiet podman run --rm --platform "linux/$ARCH" --entrypoint /usr/bin/python3.11 "$IMAGE" -c 'import os
print(round(sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk("/app/site-packages")
  for f in fs) / 1e6))')"
say "built in $(( $(date +%s) - started )) s; image $(mb "$IMAGE"): runtime base $(mb "${BASES[1]}"), site-packages $packages MB"
size="$(podman image inspect "$IMAGE" --format '{{.Size}}')"
[ "$size" -lt 200000000 ] || { say "FAILED: the image is over 200 MB"; exit 1; }

DATA="$(mktemp -d /tmp/lucid-smoke-data-XXXXXX)"
STATE="$DATA.state.json"
chown 65532:65532 "$DATA"
PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cleanup() {
  podman rm -f "$NAME" >/dev/null 2>&1 || true
  rm -rf "$DATA" "$STATE"
}
trap cleanup EXIT

# podman schedules the HEALTHCHECK with systemd timers; without systemd (a sandbox) it says so
# once and the check itself is run below (podman healthcheck run).
began=$(date +%s.%N)
quiet podman run -d --platform "linux/$ARCH" --name "$NAME" \
  --read-only --tmpfs /tmp:rw,noexec,nosuid,size=64m \
  --cap-drop ALL --security-opt no-new-privileges \
  --user 65532:65532 \
  -v "$DATA:/app/data:rw" \
  -p "127.0.0.1:$PORT:8113" \
  -e LUCID_ENV=development \
  -e "LUCID_API_TOKENS=$TOKEN=smoke:admin" \
  "$IMAGE" >/dev/null

wait_healthy() {   # $1: when the container was (re)started, from date +%s.%N
  local deadline=$(( $(date +%s) + 120 ))
  until curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      podman logs "$NAME" >&2
      say "FAILED: /health did not answer in 120 s"
      exit 1
    fi
    sleep 0.1
  done
  say "healthy $(printf '%.2f' "$(echo "$(date +%s.%N) - $1" | bc)") s after (re)start"
}

wait_healthy "$began"
podman healthcheck run "$NAME" >/dev/null 2>&1 || { say "FAILED: the image's HEALTHCHECK"; exit 1; }
say "the image's HEALTHCHECK passes"
podman exec "$NAME" /usr/bin/python3.11 -c '
import os
assert os.getuid() == 65532 and os.getgid() == 65532, (os.getuid(), os.getgid())
for path in ("/app/probe", "/usr/probe", "/app/site-packages/probe"):
    try:
        open(path, "w").close()
    except OSError:
        continue
    raise SystemExit(f"{path} is writable")
open("/app/data/.probe", "w").close()
os.unlink("/app/data/.probe")
' || { say "FAILED: user, read-only root or data volume"; exit 1; }
say "runs as 65532:65532; the root is read-only, /app/data writable"
podman logs "$NAME" 2>/dev/null | podman exec -i "$NAME" /usr/bin/python3.11 -c '
import json, os, sys, time
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
started = [e for e in map(json.loads, sys.stdin) if e.get("event") == "started"]
chosen = started[-1]["cipher"]
data, nonce, took = os.urandom(1 << 20), bytes(12), {}
for name, aead in (("aes-256-gcm", AESGCM), ("chacha20-poly1305", ChaCha20Poly1305)):
    key = aead(os.urandom(32))
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        key.encrypt(nonce, data, None)
        runs.append(time.perf_counter() - began)
    took[name] = min(runs)
faster = min(took, key=took.get)
print(f"smoke: LUCID_CIPHER=auto chose {chosen}; 1 MiB sealed here in "
      + ", ".join(f"{t * 1000:.1f} ms ({n})" for n, t in took.items()), file=sys.stderr)
assert chosen == faster or took[chosen] < 1.25 * took[faster], f"{faster} is faster"
' || { say "FAILED: auto did not choose the faster cipher"; exit 1; }
"$PYTHON" deploy/smoke_journey.py record "http://127.0.0.1:$PORT" "$TOKEN" "$STATE"
# The master key rotated inside the running, read-only container (the key file is on the data
# volume in development): every data key re-wrapped, the server follows the file.
rotated="$(podman exec "$NAME" /usr/bin/python3.11 -m lucid_sessions.bootstrap.main keys rotate)" \
  || { say "FAILED: keys rotate"; exit 1; }
say "keys rotate: $rotated"
began=$(date +%s.%N)
quiet podman restart --time 20 "$NAME" >/dev/null
wait_healthy "$began"
"$PYTHON" deploy/smoke_journey.py check "http://127.0.0.1:$PORT" "$TOKEN" "$STATE"

quiet podman stop --time 20 "$NAME" >/dev/null   # SIGTERM, then 20 s before SIGKILL
code="$(podman inspect "$NAME" --format '{{.State.ExitCode}}')"
[ "$code" = "0" ] || { podman logs "$NAME" >&2; say "FAILED: exit code $code after SIGTERM"; exit 1; }
LOGS="$(podman logs "$NAME" 2>&1)"
echo "$LOGS" | "$PYTHON" -c '
import json, sys
lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
bad = [line for line in lines if not line.startswith("{")]
for line in lines:
    if line.startswith("{"):
        json.loads(line)
assert not bad, "not JSON: " + bad[0]
assert any(json.loads(line).get("event") == "stopped" for line in lines), "no stopped line"
print(f"smoke: {len(lines)} log lines, all JSON, the last shutdown complete")
' || { say "FAILED: the logs"; exit 1; }
if echo "$LOGS" | grep -q "$TOKEN"; then say "FAILED: the token appears in the logs"; exit 1; fi
if find "$DATA" -name '*.tmp' | grep -q .; then say "FAILED: a half-written blob is left"; exit 1; fi
say "OK: read-only, user 65532, no capabilities; recorded, restarted, verified, stopped cleanly"
