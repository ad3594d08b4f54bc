"""Two `lucid-sessions serve` replicas sharing one MongoDB (the wire server), one Redis and
one S3 bucket (a real RADOS Gateway), as several replicas behind the gateway run. The
module's database, Redis database and bucket are its own, on the run's servers.

One session's chunks go alternately through both; duplicate uploads of one sequence number
race through both (never a spurious 409, never two chunks); different bytes racing for one
number leave exactly one, whole; a pause through one holds uploads through the other; a
replica killed while it finalizes (it holds the finalization lease, the session is
`processing`) is taken over by the other once that lease expires, not before. At the end: a
contiguous sequence, every chunk byte-exact through either replica, one Merkle root, one
`completed` entry in the session log."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from lucid_sessions.adapters.crypto.signer import Ed25519Signer
from lucid_sessions.domain.merkle import root_from_leaf_hashes
from tests.e2e.conftest import s3_env
from tests.e2e.http import BASE, eventually, log_entries
from tests.e2e.test_chunks_http import (
    download,
    leaf_hex,
    noise,
    put_chunk,
    recording,
    screen_like,
    session,
    upload,
    wait_status,
)
from tests.servers import ServiceProcess, lucid_sessions_command
from tests.servers_db import REDIS_DATABASES, MongoTarget, RedisServer, fresh_database_name
from tests.servers_s3 import S3Server

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 2


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory,
    mongo_target: MongoTarget,
    session_redis: RedisServer,
    s3_server: S3Server,
) -> Iterator[dict[str, str]]:
    """A MongoDB database, a Redis database and a bucket of the module's own on the session's
    servers (tests/conftest.py), and the keys every replica must share."""
    folder = tmp_path_factory.mktemp("replicas")
    database = fresh_database_name()
    signing = folder / "signing-key.pem"
    signing.write_bytes(Ed25519Signer.generate().to_pem())
    signing.chmod(0o600)
    try:
        yield {
            "MONGODB_URL": mongo_target.url(database),
            "REDIS_URL": session_redis.url_for(REDIS_DATABASES["replicas"]),
            **s3_env(s3_server, s3_server.make_bucket()),
            "LUCID_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "LUCID_SIGNING_KEY_FILE": str(signing),
            "LUCID_LEASE_SECONDS": str(LEASE_SECONDS),
        }
    finally:
        mongo_target.drop(database)


@pytest.fixture
def replicas(tmp_path: Path, shared: dict[str, str]) -> Iterator[list[ServiceProcess]]:
    started = [ServiceProcess(tmp_path / name, env=shared) for name in ("a", "b")]
    for replica in started:
        replica.data_dir.mkdir()
        replica.start()
    yield started
    for replica in started:
        replica.stop()


def _race(calls: list[tuple[httpx.Client, str, int, bytes]]) -> list[httpx.Response]:
    """The uploads at once, one thread each, released together."""
    answers: list[httpx.Response | None] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(n: int) -> None:
        client, sid, seq, data = calls[n]
        barrier.wait()
        answers[n] = put_chunk(client, sid, seq, data)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def _finalization_lease(shared: dict[str, str], sid: str) -> dict[str, Any] | None:
    """The lease document `finalize:<sid>` in the shared MongoDB ({_id, owner, until}), or None
    when nobody holds it. A served replica's owner is `host:port` (bootstrap/main.py)."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        shared["MONGODB_URL"], tz_aware=True, serverSelectionTimeoutMS=5000
    )
    try:
        return client.get_default_database()["leases"].find_one({"_id": f"finalize:{sid}"})
    finally:
        client.close()


def _owner_port(lease: dict[str, Any]) -> int:
    return int(str(lease["owner"]).rsplit(":", 1)[-1])


def _json_lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _log_entries(client: httpx.Client, sid: str) -> list[dict[str, object]]:
    return [entry for entry in log_entries(client) if entry["session_id"] == sid]


def test_two_replicas_share_one_recording(
    replicas: list[ServiceProcess], shared: dict[str, str]
) -> None:
    a_server, b_server = replicas
    with a_server.client() as a, b_server.client() as b:
        sid = recording(a)
        chunks: list[bytes] = []

        def add(client: httpx.Client, data: bytes) -> None:
            upload(client, sid, len(chunks), data)
            chunks.append(data)

        # Alternately through both.
        for n in range(12):
            add((a, b)[n % 2], screen_like(n, 30_000 + n))

        # Identical uploads of the next number race through both: one stores it (201), the
        # other finds it stored (200); never 409, never two chunks.
        for n in range(6):
            data = noise(100 + n, 50_000)
            answers = _race([(a, sid, len(chunks), data), (b, sid, len(chunks), data)])
            assert sorted(r.status_code for r in answers) == [200, 201], [
                (r.status_code, r.text) for r in answers
            ]
            chunks.append(data)

        # Different bytes for one number: exactly one is stored, whole; the other is a 409.
        for n in range(4):
            mine, theirs = screen_like(200 + n, 40_000), screen_like(300 + n, 41_000)
            answers = _race([(a, sid, len(chunks), mine), (b, sid, len(chunks), theirs)])
            codes = [r.status_code for r in answers]
            assert sorted(codes) == [201, 409], [(r.status_code, r.text) for r in answers]
            chunks.append(mine if codes[0] == 201 else theirs)

        # A pause through one holds uploads through the other; a resume lets them on.
        assert a.post(f"{BASE}/{sid}/pipeline/pause").status_code == 200
        held = put_chunk(b, sid, len(chunks), b"held")
        assert held.status_code == 503, held.text
        assert b.post(f"{BASE}/{sid}/pipeline/resume").status_code == 200
        add(a, b"after the pause")

        # Every chunk byte-exact through either replica; one root, as both see it.
        expected_root = root_from_leaf_hashes(
            [bytes.fromhex(leaf_hex(data)) for data in chunks]
        ).hex()
        for client in (a, b):
            state = session(client, sid)
            assert state["statistics"]["chunks_count"] == len(chunks)
            assert state["merkle_root"] == expected_root
            listed = client.get(f"{BASE}/{sid}/chunks", params={"limit": 1000}).json()
            assert [c["sequence_number"] for c in listed["chunks"]] == list(range(len(chunks)))
            for seq, data in enumerate(chunks):
                assert download(client, sid, seq).content == data, seq

        # Enough chunks that finalization (which re-reads every blob) is still running when
        # replica A, which took the `stop`, is killed: killed once it is seen finalizing (the
        # session `processing`, as B reports it, and A holding the lease in the database).
        for n in range(120):
            add((a, b)[n % 2], noise(1000 + n, 64_000))
        assert a.post(f"{BASE}/{sid}/stop").status_code == 200

        def finalizing() -> bool:
            status = session(b, sid)["status"]
            if status == "processing" and _finalization_lease(shared, sid) is not None:
                return True
            assert status == "stopped", f"finalization ended before A was seen at it: {status}"
            return False

        eventually(finalizing, "A starts the finalization", timeout=30, every=0.01)
    a_server.kill()
    killed = datetime.now(UTC)
    held = _finalization_lease(shared, sid)  # as A left it: nobody takes a live lease
    assert held is not None
    assert _owner_port(held) == a_server.port, ("A held the finalization lease", held)
    assert held["until"] > killed, "A's lease was still live when A was killed"

    with b_server.client() as b:
        final = wait_status(b, sid, {"completed", "failed"}, timeout=60)
        assert final["status"] == "completed", final
        # B completed it after A's lease expired, not before (not by ignoring the lease).
        assert _instant(final["completed_at"]) >= held["until"], (final["completed_at"], held)
        manifest = b.get(f"{BASE}/{sid}/manifest").json()
        assert manifest["chunks_count"] == len(chunks)
        assert manifest["signature"]
        entries = _log_entries(b, sid)
        assert [entry["type"] for entry in entries] == ["completed"], entries  # one, once
        for seq in (0, len(chunks) // 2, len(chunks) - 1):
            assert download(b, sid, seq).content == chunks[seq]
    # B's log says it completed it (B also logs `finalized` with status `recording` for the
    # no-op run the pipeline resume through B scheduled: that one does not count).
    finalized = [
        (event["session_id"], event["status"])
        for event in _json_lines(b_server.log_path)
        if event.get("event") == "finalized"
    ]
    assert (sid, "completed") in finalized, ("B took the finalization over", finalized)


@pytest.mark.parametrize("broken", ["secret", "bucket"])
def test_a_bucket_that_cannot_serve_stops_start_up(
    tmp_path: Path, shared: dict[str, str], broken: str
) -> None:
    env = dict(shared)
    if broken == "secret":
        env["LUCID_S3_SECRET_ACCESS_KEY"] = "not-" + env["LUCID_S3_SECRET_ACCESS_KEY"]
    else:
        env["LUCID_S3_BUCKET"] = "no-such-bucket"
    service = ServiceProcess(tmp_path / "refused", env=env)
    service.data_dir.mkdir()
    done = subprocess.run(
        [*lucid_sessions_command(), "serve", "--port", str(service.port)],
        env=service.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "LUCID_S3_BUCKET" in done.stderr
    assert env["LUCID_S3_SECRET_ACCESS_KEY"] not in done.stderr + done.stdout
