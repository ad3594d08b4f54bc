"""A chunk store that fails (full, read-only, gone) costs the failed upload and nothing else.

The in-process app on fakes, with a blob store that injects the failures: this runs on every
machine. `tests/e2e/test_storage_faults.py` does the same on a real tmpfs where one can be
mounted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from lucid_sessions.adapters.memory import InMemoryBlobStore
from lucid_sessions.bootstrap.app import create_app
from lucid_sessions.domain.errors import StorageFull, StorageUnavailable
from tests.graph import fake_container

BASE = "/api/v1/sessions"
OCTETS = {"content-type": "application/octet-stream"}


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
    container = fake_container(tmp_path)
    container.blob_store.override(providers.Object(blobs))
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
