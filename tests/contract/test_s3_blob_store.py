"""What the S3 adapter adds to the BlobStore contract, on a real RADOS Gateway: multipart
blobs, ranged reads, prefixes that share a bucket, signatures that are checked, outages that
answer StorageUnavailable, and an upload cut off halfway that leaves no visible object."""

from __future__ import annotations

import os
import threading
import time

import anyio
import pytest

from lucid_sessions.adapters.s3.blob_store import MULTIPART_THRESHOLD, S3BlobStore, s3_store
from lucid_sessions.domain.errors import ChunkNotFound, StorageUnavailable
from tests.contract.conftest import s3_blob_store
from tests.servers_s3 import S3Server

pytestmark = pytest.mark.anyio


async def test_a_multipart_blob_round_trips_and_reads_by_range(s3_server: S3Server) -> None:
    store = s3_blob_store(s3_server, s3_server.make_bucket())
    blob = os.urandom(MULTIPART_THRESHOLD * 2 + 12345)  # three parts
    await store.put("sess-multi", 0, blob)
    assert await store.get("sess-multi", 0) == blob
    assert await store.get_range("sess-multi", 0, 100, 4_000_000) == blob[100:4_000_000]
    with pytest.raises(ChunkNotFound):
        await store.get_range("sess-multi", 1, 0, 10)


async def test_prefixes_share_a_bucket_without_touching_each_other(s3_server: S3Server) -> None:
    bucket = s3_server.make_bucket()
    site_a = s3_blob_store(s3_server, bucket, prefix="site-a")
    site_b = s3_blob_store(s3_server, bucket, prefix="site-b")
    await site_a.put("sess-x", 0, b"a")
    await site_b.put("sess-x", 0, b"b")
    await site_a.delete_session("sess-x")
    with pytest.raises(ChunkNotFound):
        await site_a.get("sess-x", 0)
    assert await site_b.get("sess-x", 0) == b"b"


async def test_a_session_of_many_blobs_is_deleted_whole(s3_server: S3Server) -> None:
    store = s3_blob_store(s3_server, s3_server.make_bucket())
    async with anyio.create_task_group() as tg:
        for n in range(1100):  # more than one DeleteObjects request
            tg.start_soon(store.put, "sess-many", n, b"x")
    await store.delete_session("sess-many")
    for n in (0, 999, 1000, 1099):
        with pytest.raises(ChunkNotFound):
            await store.get("sess-many", n)


async def test_a_wrong_secret_is_refused_by_the_signature_check(s3_server: S3Server) -> None:
    bucket = s3_server.make_bucket()
    forged = S3BlobStore(
        s3_store(
            bucket,
            endpoint=s3_server.endpoint,
            addressing="path",
            access_key_id=s3_server.access_key,
            secret_access_key="not-" + s3_server.secret_key,
        )
    )
    with pytest.raises(StorageUnavailable) as refused:
        await forged.put("sess-a", 0, b"x")
    assert "SignatureDoesNotMatch" in str(refused.value.__cause__)
    assert await forged.ping() is False
    with pytest.raises(ChunkNotFound):  # nothing was stored
        await s3_blob_store(s3_server, bucket).get("sess-a", 0)


async def test_an_upload_cut_off_halfway_leaves_the_old_object(s3_server: S3Server) -> None:
    store = s3_blob_store(s3_server, s3_server.make_bucket())
    await store.put("sess-cut", 0, b"the first version")
    big = os.urandom(256 * 1024 * 1024)  # many parts: the gateway dies while they go up

    def kill_soon() -> None:
        time.sleep(0.3)
        s3_server.gateway.kill()

    killer = threading.Thread(target=kill_soon)
    killer.start()
    try:
        with pytest.raises(StorageUnavailable):
            await store.put("sess-cut", 0, big)
        with pytest.raises(StorageUnavailable):
            await store.get("sess-cut", 0)
        assert await store.ping() is False
    finally:
        killer.join()
        s3_server.restart_gateway()
    assert await store.get("sess-cut", 0) == b"the first version"
    assert await store.ping() is True


async def test_a_missing_bucket_is_unhealthy_and_unavailable(s3_server: S3Server) -> None:
    store = s3_blob_store(s3_server, "no-such-bucket")
    assert await store.ping() is False
    with pytest.raises(StorageUnavailable):
        await store.put("sess-a", 0, b"x")
