"""A chunk store that fails (full, read-only, gone) costs the failed upload and nothing else.

The in-process app on fakes, with a blob store that injects the failures: this runs on every
machine. `tests/e2e/test_storage_faults.py` does the same on a real tmpfs where one can be
mounted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from litestar.testing import TestClient

from lucid_sessions.adapters.memory import InMemoryBlobStore
from lucid_sessions.bootstrap.app import create_app
from lucid_sessions.domain.errors import StorageFull, StorageUnavailable
from tests.e2e.http import BASE, OCTETS, metric
from tests.graph import fake_container


class FaultyBlobStore(InMemoryBlobStore):
    """The in-memory store, failing every `put` with `fault` while one is set."""

    def __init__(self) -> None:
        super().__init__()
        self.fault: Exception | None = None
        self.failed_puts = 0

    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None:
        if self.fault is not None:
            self.failed_puts += 1
            raise self.fault
        await super().put(session_id, sequence_number, blob)


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (StorageFull("the chunk store is full; nothing was stored"), 507),
        (StorageUnavailable("cannot store chunk blobs: Read-only file system"), 503),
    ],
)
def test_a_failing_store_loses_nothing(tmp_path: Path, fault: Exception, status: int) -> None:
    blobs = FaultyBlobStore()
    container = fake_container(tmp_path, blob_store=blobs)
    chunks = [os.urandom(10_000) for _ in range(4)]
    with TestClient(create_app(container)) as client:
        sid = client.post(BASE, json={"name": "n", "rdp_config": {"host": "h"}}).json()
        sid = sid["session_id"]
        assert client.post(f"{BASE}/{sid}/start").status_code == 200
        for n in (0, 1):
            assert client.put(f"{BASE}/{sid}/chunks/{n}", content=chunks[n], headers=OCTETS)
        blobs.fault = fault
        for _ in range(3):
            failed = client.put(f"{BASE}/{sid}/chunks/2", content=chunks[2], headers=OCTETS)
            assert failed.status_code == status, failed.text
            assert "Traceback" not in failed.text
        assert blobs.failed_puts == 3
        assert client.get(f"{BASE}/{sid}").json()["statistics"]["chunks_count"] == 2
        for n in (0, 1):
            assert client.get(f"{BASE}/{sid}/chunks/{n}/download").content == chunks[n]
        stages = client.get(f"{BASE}/{sid}/pipeline").json()["stages"]
        assert {s["stage_name"]: s["failed"] for s in stages}["storage"] == 3
        blobs.fault = None
        for n in (2, 3):
            put = client.put(f"{BASE}/{sid}/chunks/{n}", content=chunks[n], headers=OCTETS)
            assert put.status_code == 201
        assert client.get(f"{BASE}/{sid}/recording").content == b"".join(chunks)


def test_the_quota_and_the_free_space_floor_refuse_new_chunks_only(tmp_path: Path) -> None:
    container = fake_container(tmp_path)
    with TestClient(create_app(container)) as client:
        tiny = {"max_size_gb": 0.001}  # 1,000,000 bytes
        created = client.post(
            BASE, json={"name": "n", "rdp_config": {"host": "h"}, "storage_config": tiny}
        )
        sid = created.json()["session_id"]
        assert client.post(f"{BASE}/{sid}/start").status_code == 200
        first = os.urandom(600_000)
        assert (
            client.put(f"{BASE}/{sid}/chunks/0", content=first, headers=OCTETS).status_code == 201
        )
        over = client.put(f"{BASE}/{sid}/chunks/1", content=os.urandom(400_001), headers=OCTETS)
        assert over.status_code == 507, over.text
        assert "quota" in over.json()["detail"]
        fits = client.put(f"{BASE}/{sid}/chunks/1", content=b"x" * 400_000, headers=OCTETS)
        assert fits.status_code == 201
        assert client.get(f"{BASE}/{sid}").json()["statistics"]["size_bytes"] == 1_000_000
        assert client.get(f"{BASE}/{sid}/chunks/0/download").content == first
        assert metric(client, "lucid_quota_refusals_total", exact=True, reason="session_quota") == 1
        assert metric(client, "lucid_quota_refusals_total", exact=True, reason="free_space") == 0
        assert client.get("/health").json()["checks"]["free_space"] == "ok"


def test_below_the_free_space_floor_reads_and_stop_still_work(tmp_path: Path) -> None:
    container = fake_container(tmp_path, {"LUCID_CHUNK_STORE_MIN_FREE_MB": str(1 << 40)})
    with TestClient(create_app(container)) as client:
        sid = client.post(BASE, json={"name": "n", "rdp_config": {"host": "h"}}).json()
        sid = sid["session_id"]
        assert client.post(f"{BASE}/{sid}/start").status_code == 200
        refused = client.put(f"{BASE}/{sid}/chunks/0", content=b"x", headers=OCTETS)
        assert refused.status_code == 507
        assert "free-space floor" in refused.json()["detail"]
        assert client.get(f"{BASE}/{sid}/chunks").json()["total"] == 0
        assert client.post(f"{BASE}/{sid}/stop").status_code == 200
        assert metric(client, "lucid_quota_refusals_total", exact=True, reason="free_space") == 1
        health = client.get("/health")
        assert health.status_code == 200  # degraded: reads and finalization still work
        assert health.json()["status"] == "degraded"
        assert health.json()["checks"]["free_space"] == "low"
