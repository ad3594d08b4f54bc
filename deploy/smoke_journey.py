"""A recorder's journey against a running lucid-sessions, for the container smoke tests.

    python deploy/smoke_journey.py record URL TOKEN STATE.json
        creates a session, uploads chunks, reads them back (each, and the whole recording),
        stops it, waits for the signed manifest and checks it; notes what it stored in STATE.
    python deploy/smoke_journey.py check URL TOKEN STATE.json
        after a restart: everything STATE says was stored is there, byte for byte, and a
        new session still records.

Exit status 0 when every check holds; otherwise 1 with the failed check on stderr.
Uses only httpx (the test dependencies) and the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any

import httpx

BASE = "/api/v1/sessions"
OCTETS = {"Content-Type": "application/octet-stream"}


def _chunks(seed: int) -> list[bytes]:
    """Screen-like enough to compress, different per chunk: 1 MiB, 300 KiB, 1 byte, 0 bytes."""
    sizes = (1 << 20, 300_000, 1, 0)
    return [
        (f"frame {seed}:{n} ".encode() * (size // 8 + 1))[:size] + os.urandom(min(size, 64))
        for n, size in enumerate(sizes)
    ]


def _check(condition: bool, what: str) -> None:
    if not condition:
        print(f"smoke: FAILED: {what}", file=sys.stderr)
        raise SystemExit(1)


def _wait_completed(http: httpx.Client, sid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body = http.get(f"{BASE}/{sid}").json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.2)


def _record(http: httpx.Client, name: str, seed: int) -> dict[str, Any]:
    created = http.post(BASE, json={"name": name, "rdp_config": {"host": "10.0.0.5"}})
    _check(created.status_code == 201, f"create: {created.status_code} {created.text}")
    sid = created.json()["session_id"]
    _check(http.post(f"{BASE}/{sid}/start").status_code == 200, "start")
    chunks = _chunks(seed)
    timings: list[float] = []
    for seq, data in enumerate(chunks):
        began = time.perf_counter()
        put = http.put(f"{BASE}/{sid}/chunks/{seq}", content=data, headers=OCTETS)
        timings.append(time.perf_counter() - began)
        _check(put.status_code == 201, f"upload {seq}: {put.status_code} {put.text}")
    for seq, data in enumerate(chunks):
        began = time.perf_counter()
        got = http.get(f"{BASE}/{sid}/chunks/{seq}/download")
        timings.append(time.perf_counter() - began)
        _check(got.status_code == 200 and got.content == data, f"download {seq}")
    print(
        f"smoke: 1 MiB chunk: upload {timings[0]:.3f} s, download {timings[len(chunks)]:.3f} s",
        file=sys.stderr,
    )
    recording = http.get(f"{BASE}/{sid}/recording")
    _check(recording.content == b"".join(chunks), "the recording is the concatenation")
    _check(http.post(f"{BASE}/{sid}/stop").status_code == 200, "stop")
    final = _wait_completed(http, sid)
    _check(final["status"] == "completed", f"finalization: {final}")
    manifest = http.get(f"{BASE}/{sid}/manifest").json()
    _check(bool(manifest["signature"]) and manifest["chunks_count"] == len(chunks), "manifest")
    return {
        "session_id": sid,
        "sha256": [hashlib.sha256(data).hexdigest() for data in chunks],
        "manifest": manifest,
    }


def record(http: httpx.Client, state_path: str) -> None:
    _check(http.get("/schema/openapi.json").status_code == 200, "the OpenAPI document")
    state = {"sessions": [_record(http, "smoke", 1)]}
    with open(state_path, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    print(f"smoke: recorded {state['sessions'][0]['session_id']}, 4 chunks, manifest signed")


def check(http: httpx.Client, state_path: str) -> None:
    with open(state_path, encoding="utf-8") as handle:
        state = json.load(handle)
    for stored in state["sessions"]:
        sid = stored["session_id"]
        for seq, digest in enumerate(stored["sha256"]):
            got = http.get(f"{BASE}/{sid}/chunks/{seq}/download")
            _check(got.status_code == 200, f"after restart, chunk {seq}: {got.status_code}")
            _check(hashlib.sha256(got.content).hexdigest() == digest, f"chunk {seq} bytes")
        _check(http.get(f"{BASE}/{sid}/manifest").json() == stored["manifest"], "manifest")
    again = _record(http, "smoke after restart", 2)
    print(f"smoke: after the restart every byte is there; {again['session_id']} recorded too")


def main(argv: list[str]) -> int:
    command, url, token, state_path = argv
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as http:
        if command == "record":
            record(http, state_path)
        elif command == "check":
            check(http, state_path)
        else:
            print(f"smoke: unknown command {command!r}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
