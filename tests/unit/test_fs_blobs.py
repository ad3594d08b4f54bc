"""Filesystem specifics of the blob store: layout, validated paths, crash leftovers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lucid_sessions.adapters.fs.blob_store import FilesystemBlobStore
from lucid_sessions.domain.errors import InvalidValue

pytestmark = pytest.mark.anyio


async def test_layout_is_sharded_and_named_by_sequence(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    await store.put("sess-a", 7, b"x")
    files = [p.relative_to(tmp_path) for p in tmp_path.rglob("*.lsb")]
    assert len(files) == 1
    shard, session, name = files[0].parts
    assert len(shard) == 2
    assert session == "sess-a"
    assert name == "000000000007.lsb"
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file survives a write"


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".", "x" * 65])
def test_paths_come_only_from_valid_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidValue):
        FilesystemBlobStore(tmp_path).blob_path(bad, 0)


def test_negative_sequence_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue):
        FilesystemBlobStore(tmp_path).blob_path("sess-a", -1)


async def test_sweep_removes_only_old_temporaries(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    await store.put("sess-a", 0, b"x")
    folder = store.session_dir("sess-a")
    old = folder / ".000000000001.lsb.dead.tmp"
    new = folder / ".000000000002.lsb.live.tmp"
    old.write_bytes(b"partial")
    new.write_bytes(b"partial")
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert store.sweep_temporaries(older_than_seconds=600) == 1
    assert not old.exists()
    assert new.exists()
    assert await store.get("sess-a", 0) == b"x"
