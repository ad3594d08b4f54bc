"""Contracts of ChunkIndex, BlobStore, DataKeyStore and PipelineStats (fakes and real)."""

from __future__ import annotations

import anyio
import pytest

from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkQuery
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures
from tests.factories import at
from tests.factories import make_chunk_record as record

pytestmark = pytest.mark.anyio


# -- ChunkIndex ------------------------------------------------------------------------------


async def test_index_round_trip(chunk_index: ChunkIndex) -> None:
    r = record("sess-a", 0)
    await chunk_index.put(r)
    assert await chunk_index.get("sess-a", 0) == r
    with pytest.raises(ChunkNotFound):
        await chunk_index.get("sess-a", 1)
    with pytest.raises(ChunkNotFound):
        await chunk_index.get("sess-b", 0)


async def test_index_put_replaces_an_uncommitted_record(chunk_index: ChunkIndex) -> None:
    await chunk_index.put(record("sess-a", 0, data=b"first"))
    await chunk_index.put(record("sess-a", 0, data=b"second"))
    assert (await chunk_index.get("sess-a", 0)).size_bytes == len(b"second")


async def test_index_lists_committed_in_order_with_filters(chunk_index: ChunkIndex) -> None:
    for n in (3, 0, 2, 1, 4):
        await chunk_index.put(record("sess-a", n))
    await chunk_index.put(record("sess-b", 0))
    page = await chunk_index.find(ChunkQuery("sess-a", committed=4))
    assert [r.sequence_number for r in page.chunks] == [0, 1, 2, 3]
    assert page.total == 4
    page = await chunk_index.find(ChunkQuery("sess-a", committed=5, limit=2, offset=1))
    assert ([r.sequence_number for r in page.chunks], page.total) == ([1, 2], 5)
    timed = await chunk_index.find(
        ChunkQuery("sess-a", committed=5, start_time=at(1), end_time=at(3))
    )
    assert [r.sequence_number for r in timed.chunks] == [1, 2]
    assert (await chunk_index.find(ChunkQuery("sess-z", committed=9))).total == 0


async def test_index_leaf_hashes(chunk_index: ChunkIndex) -> None:
    records = [record("sess-a", n) for n in range(5)]
    for r in reversed(records):
        await chunk_index.put(r)
    assert await chunk_index.leaf_hashes("sess-a", 3) == [r.leaf_hash for r in records[:3]]
    assert await chunk_index.leaf_hashes("sess-a", 0) == []
    with pytest.raises(ChunkNotFound):
        await chunk_index.leaf_hashes("sess-a", 6)


async def test_index_delete_session(chunk_index: ChunkIndex) -> None:
    await chunk_index.put(record("sess-a", 0))
    await chunk_index.put(record("sess-b", 0))
    await chunk_index.delete_session("sess-a")
    await chunk_index.delete_session("sess-never")
    with pytest.raises(ChunkNotFound):
        await chunk_index.get("sess-a", 0)
    assert (await chunk_index.get("sess-b", 0)).session_id == "sess-b"


# -- BlobStore -------------------------------------------------------------------------------


async def test_blobs_round_trip_and_replace(blob_store: BlobStore) -> None:
    await blob_store.put("sess-a", 0, b"one")
    await blob_store.put("sess-a", 1, b"")
    assert await blob_store.get("sess-a", 0) == b"one"
    assert await blob_store.get("sess-a", 1) == b""
    await blob_store.put("sess-a", 0, b"two")
    assert await blob_store.get("sess-a", 0) == b"two"
    with pytest.raises(ChunkNotFound):
        await blob_store.get("sess-a", 2)


async def test_blobs_large_and_concurrent(blob_store: BlobStore) -> None:
    payloads = {n: bytes([n]) * (1_000_000 + n) for n in range(6)}
    async with anyio.create_task_group() as tg:
        for n, payload in payloads.items():
            tg.start_soon(blob_store.put, "sess-big", n, payload)
    for n, payload in payloads.items():
        assert await blob_store.get("sess-big", n) == payload


async def test_blobs_delete_session(blob_store: BlobStore) -> None:
    await blob_store.put("sess-a", 0, b"a")
    await blob_store.put("sess-b", 0, b"b")
    await blob_store.delete_session("sess-a")
    await blob_store.delete_session("sess-never")
    with pytest.raises(ChunkNotFound):
        await blob_store.get("sess-a", 0)
    assert await blob_store.get("sess-b", 0) == b"b"


# -- DataKeyStore ----------------------------------------------------------------------------

K1 = WrappedKey(key_id="k1", wrapped=b"\x01" * 60)
K2 = WrappedKey(key_id="k2", wrapped=b"\x02" * 60)


async def test_keys_put_if_absent_keeps_the_first(data_key_store: DataKeyStore) -> None:
    assert await data_key_store.get("sess-a") is None
    assert await data_key_store.put_if_absent("sess-a", K1) == K1
    assert await data_key_store.put_if_absent("sess-a", K2) == K1
    assert await data_key_store.get("sess-a") == K1


async def test_keys_racing_puts_agree(data_key_store: DataKeyStore) -> None:
    results: list[WrappedKey] = []

    async def put(key: WrappedKey) -> None:
        results.append(await data_key_store.put_if_absent("sess-r", key))

    async with anyio.create_task_group() as tg:
        for key in (K1, K2, K1, K2):
            tg.start_soon(put, key)
    assert len(set(results)) == 1
    assert await data_key_store.get("sess-r") == results[0]


async def test_keys_replace_is_compare_and_swap(data_key_store: DataKeyStore) -> None:
    await data_key_store.put_if_absent("sess-a", K1)
    assert not await data_key_store.replace("sess-a", K2, K1)
    assert await data_key_store.replace("sess-a", K1, K2)
    assert await data_key_store.get("sess-a") == K2
    assert not await data_key_store.replace("sess-none", K1, K2)


async def test_keys_all_and_delete(data_key_store: DataKeyStore) -> None:
    await data_key_store.put_if_absent("sess-b", K2)
    await data_key_store.put_if_absent("sess-a", K1)
    assert await data_key_store.all() == [("sess-a", K1), ("sess-b", K2)]
    await data_key_store.delete("sess-a")
    await data_key_store.delete("sess-none")
    assert await data_key_store.all() == [("sess-b", K2)]


# -- PipelineStats ---------------------------------------------------------------------------


async def test_stats_accumulate(pipeline_stats: PipelineStats) -> None:
    assert await pipeline_stats.get("sess-a") == {}
    await pipeline_stats.record(
        "sess-a",
        {"compression": StageFigures(1, 0, 100, 40, 0.5), "storage": StageFigures(1, 0, 40, 40)},
    )
    await pipeline_stats.record(
        "sess-a", {"compression": StageFigures(1, 1, 10, 10, 0.25, last_error="bad")}
    )
    await pipeline_stats.record("sess-a", {"compression": StageFigures(1, 0, 1, 1, 0.25)})
    figures = await pipeline_stats.get("sess-a")
    assert figures["compression"] == StageFigures(3, 1, 111, 51, 1.0, last_error="bad")
    assert figures["storage"] == StageFigures(1, 0, 40, 40, 0.0)
    await pipeline_stats.delete_session("sess-a")
    assert await pipeline_stats.get("sess-a") == {}
