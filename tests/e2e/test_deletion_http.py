"""Sessions removed by the service, and their blobs physically gone, on every stack.

- A deletion by request (`DELETE /api/v1/sessions/{id}`) removes every chunk blob: the files
  under the chunk store's folder, or the objects in the bucket (listed with the radosgw's own
  keys, not through the service).
- The retention sweeper inside `lucid-sessions serve` (docs/operations.md, "Retention and
  legal hold"): with `LUCID_RETENTION_INTERVAL_SECONDS=1`, a session whose `stopped_at +
  retention_days` has passed is deleted by the service itself, with a `deleted` entry
  (`reason: retention`, `principal: system`) in the session log and its blobs gone, while a
  session under legal hold and unexpired ones stay.

`retention_days` is at least 1, so no session can expire while a test waits: the test moves
the `stopped_at` of a completed session two days back by writing it through the service's own
repository adapter (SQLite, or MongoDB behind the Redis cache; `open_container` with the
server's settings, as the operator's commands open the stores beside a running service).
Nothing else of the service is touched: the server, already running, finds and deletes the
session on one of its periodic sweeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import httpx
import obstore
import pytest

from lucid_sessions.bootstrap.container import open_container
from lucid_sessions.bootstrap.settings.loading import load_settings
from tests.e2e.conftest import own_database
from tests.e2e.http import BASE, eventually, log_entries, metric
from tests.e2e.test_chunks_http import recording, session, upload, wait_status
from tests.servers import ServiceProcess
from tests.servers_db import DatabaseServers

pytestmark = pytest.mark.e2e

SWEEP_SECONDS = 1
CHUNKS = 3


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    """The module's server (overriding conftest's): the same, but sweeping every second."""
    with own_database(stack_env) as env:
        service = ServiceProcess(
            tmp_path_factory.mktemp("server"),
            env={**env, "LUCID_RETENTION_INTERVAL_SECONDS": str(SWEEP_SECONDS)},
        )
        service.start()
        yield service
        assert service.stop_gracefully(), "the server shuts down cleanly on SIGTERM"


# -- helpers ----------------------------------------------------------------------------------


def stored_objects(server: ServiceProcess, stack: DatabaseServers | None, sid: str) -> list[str]:
    """Every stored object of the session, found without the service: the files under the
    chunk store's folder whose path names it, or the keys of the whole bucket naming it."""
    if server.env.get("LUCID_BLOB_STORE") == "s3":
        assert stack is not None
        assert stack.s3 is not None
        bucket = stack.s3.store(server.env["LUCID_S3_BUCKET"])
        keys = [meta["path"] for meta in obstore.list(bucket).collect()]
        return sorted(key for key in keys if sid in key)
    chunks = server.data_dir / "chunks"
    return sorted(
        str(p.relative_to(chunks)) for p in chunks.rglob("*") if sid in p.parts and p.is_file()
    )


def completed(http: httpx.Client, **overrides: Any) -> str:
    sid = recording(http, **overrides)
    for seq in range(CHUNKS):
        upload(http, sid, seq, f"frame {seq} of {sid} ".encode() * 300)
    assert http.post(f"{BASE}/{sid}/stop").status_code == 200
    assert wait_status(http, sid, {"completed", "failed"})["status"] == "completed"
    return sid


def backdate(server: ServiceProcess, sid: str, days: float) -> None:
    """Move every instant of a stored session `days` back (its `stopped_at` with them), through
    the service's own repository (and its cache, when Redis is configured)."""

    async def rewrite() -> None:
        settings = load_settings(server.environment())
        async with open_container(settings, create=False) as opened:
            repository = opened.session_repository()
            stored = await repository.get(sid)
            assert stored.stopped_at is not None
            shift = timedelta(days=days)
            stored.created_at -= shift
            for name in ("updated_at", "started_at", "stopped_at", "completed_at", "finalized_at"):
                moment = getattr(stored, name)
                if moment is not None:
                    setattr(stored, name, moment - shift)
            await repository.save(stored)

    anyio.run(rewrite)


def deletions(http: httpx.Client) -> list[dict[str, Any]]:
    """The `deleted` entries of the session log."""
    return [entry for entry in log_entries(http) if entry["type"] == "deleted"]


# -- tests ------------------------------------------------------------------------------------


def test_a_deleted_sessions_blobs_are_gone(
    server: ServiceProcess, stack: DatabaseServers | None
) -> None:
    with server.client() as http:
        doomed = completed(http, name="deleted by request")
        neighbour = completed(http, name="its neighbour")
        assert len(stored_objects(server, stack, doomed)) == CHUNKS
        assert len(stored_objects(server, stack, neighbour)) == CHUNKS

        assert http.delete(f"{BASE}/{doomed}").status_code == 200
        assert http.get(f"{BASE}/{doomed}").status_code == 404
        assert stored_objects(server, stack, doomed) == []
        assert len(stored_objects(server, stack, neighbour)) == CHUNKS
        download = http.get(f"{BASE}/{neighbour}/chunks/{CHUNKS - 1}/download")
        assert download.status_code == 200


def test_the_service_sweeps_expired_sessions_by_itself(
    server: ServiceProcess, stack: DatabaseServers | None
) -> None:
    with server.client() as http:
        expiring = completed(http, name="expiring", storage_config={"retention_days": 1})
        held = completed(
            http, name="held", storage_config={"retention_days": 1, "legal_hold": True}
        )
        fresh = completed(http, name="stopped just now", storage_config={"retention_days": 1})
        long_kept = completed(http, name="kept 30 days", storage_config={"retention_days": 30})
        root = session(http, expiring)["merkle_root"]
        assert metric(http, "lucid_session_deletions_total", missing=0.0, reason="retention") == 0

        # Two days ago for each but `fresh`: past the retention of `expiring` and `held`, within
        # that of `long_kept`. `expiring` last, so the sweep that deletes it met the others
        # already moved.
        for sid in (held, long_kept, expiring):
            backdate(server, sid, days=2)
        eventually(
            lambda: http.get(f"{BASE}/{expiring}").status_code == 404,
            "the sweeper claims the expired session",
        )
        ours = {expiring, held, fresh, long_kept}
        eventually(
            lambda: any(e["session_id"] == expiring for e in deletions(http)),
            "the deletion is logged",
        )
        assert [e["session_id"] for e in deletions(http) if e["session_id"] in ours] == [expiring]
        entry = next(e for e in deletions(http) if e["session_id"] == expiring)
        assert entry["reason"] == "retention"
        assert entry["principal"] == "system"
        assert entry["chunks_count"] == CHUNKS
        assert entry["merkle_root"] == root
        eventually(lambda: stored_objects(server, stack, expiring) == [], "its blobs are removed")
        # Counted once the sweep that deleted it has met every expired session.
        eventually(
            lambda: (
                metric(http, "lucid_retention_sessions_total", missing=0.0, outcome="deleted") == 1
            ),
            "the sweep is counted",
        )
        assert metric(http, "lucid_session_deletions_total", missing=0.0, reason="retention") == 1

        for kept in (held, fresh, long_kept):
            assert http.get(f"{BASE}/{kept}").status_code == 200, kept
            assert len(stored_objects(server, stack, kept)) == CHUNKS, kept
    log = server.log_path.read_text()
    assert '"retention_deleted"' in log
    assert expiring in log
