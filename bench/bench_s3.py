"""S3 figures: the chunk store on a real S3 server (Ceph's RADOS Gateway, a throwaway
one-node cluster as the tests start it) next to the filesystem, in the same run.

- ``s3.ingest_*``: sequential ``PUT .../chunks/{n}`` of 1 MiB desktop frames over one
  keep-alive connection to ``lucid-sessions serve`` on the embedded metadata store, with chunk
  blobs in a bucket; the baseline is the same on the filesystem chunk store.
- ``s3.download_*``: ``GET .../recording`` of those chunks, the same way.
- ``s3.client_*``: the S3 client libraries themselves, 1 MiB objects put and got 64 times,
  obstore (the adapter's) against aiobotocore, in process: the figures that chose obstore.

Run as ``python bench/bench_s3.py``; ``bench/run.py`` imports ``run()``. Needs Debian's
radosgw, ceph-mon, ceph-osd and ceph-common (``./run.sh test`` installs them).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, figures
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers*

from tests.e2e.conftest import s3_env
from tests.servers_s3 import S3Server

from common import create_recording_session, http_client, running_server, screen_chunks, upload
from figures import Figure, at_least, summarize

__all__ = ["run"]

MIB = 1024 * 1024
CHUNKS, TINY_CHUNKS = 64, 4
OBJECTS, TINY_OBJECTS = 64, 4


def _through_service(env: Mapping[str, str], chunks: list[bytes]) -> tuple[float, float]:
    """(MiB/s uploading the chunks one by one, MiB/s downloading the recording)."""
    total = sum(map(len, chunks)) / MIB
    with running_server(env=env) as server, http_client(server.url) as client:
        session_id = create_recording_session(client, "s3 bench")
        began = time.perf_counter()
        for sequence, data in enumerate(chunks):
            upload(client, session_id, sequence, data)
        ingest = total / (time.perf_counter() - began)
        began = time.perf_counter()
        answer = client.get(f"/api/v1/sessions/{session_id}/recording")
        answer.raise_for_status()
        download = total / (time.perf_counter() - began)
        assert len(answer.content) == sum(map(len, chunks))
    return ingest, download


async def _obstore(server: S3Server, bucket: str, count: int) -> tuple[float, float]:
    import obstore

    store = server.store(bucket)
    data = os.urandom(MIB)
    began = time.perf_counter()
    for n in range(count):
        await obstore.put_async(store, f"obstore/{n}", data)
    put = count / (time.perf_counter() - began)
    began = time.perf_counter()
    for n in range(count):
        got = await obstore.get_async(store, f"obstore/{n}")
        assert len(await got.bytes_async()) == MIB
    get = count / (time.perf_counter() - began)
    return put, get


async def _aiobotocore(server: S3Server, bucket: str, count: int) -> tuple[float, float]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    data = os.urandom(MIB)
    async with get_session().create_client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=config,
    ) as client:
        began = time.perf_counter()
        for n in range(count):
            await client.put_object(Bucket=bucket, Key=f"botocore/{n}", Body=data)
        put = count / (time.perf_counter() - began)
        began = time.perf_counter()
        for n in range(count):
            answer = await client.get_object(Bucket=bucket, Key=f"botocore/{n}")
            async with answer["Body"] as body:
                assert len(await body.read()) == MIB
        get = count / (time.perf_counter() - began)
    return put, get


def _gateway(scratch: Path) -> S3Server:
    """The gateway named by BENCH_S3_ENDPOINT, BENCH_S3_ACCESS_KEY_ID and
    BENCH_S3_SECRET_ACCESS_KEY (the test suite passes its own), else a new one-node cluster."""
    endpoint = os.environ.get("BENCH_S3_ENDPOINT")
    if endpoint:
        return S3Server.attach(
            endpoint,
            os.environ["BENCH_S3_ACCESS_KEY_ID"],
            os.environ["BENCH_S3_SECRET_ACCESS_KEY"],
        )
    return S3Server(scratch).start()


def run(env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    chunks = screen_chunks(TINY_CHUNKS if tiny else CHUNKS, size=MIB)
    objects = TINY_OBJECTS if tiny else OBJECTS
    with tempfile.TemporaryDirectory(prefix="lucid-bench-s3-") as scratch:
        server = _gateway(Path(scratch))
        try:
            bucket = server.make_bucket()
            fs_in, fs_out = _through_service(dict(env or {}), chunks)
            s3_in, s3_out = _through_service({**(env or {}), **s3_env(server, bucket)}, chunks)
            ob_put, ob_get = asyncio.run(_obstore(server, bucket, objects))
            bc_put, bc_get = asyncio.run(_aiobotocore(server, bucket, objects))
        finally:
            server.stop()
    note = f"{len(chunks)} chunks of 1 MiB, one connection, embedded metadata"
    return [
        Figure("s3.ingest_filesystem", fs_in, "MiB/s", note=note),
        Figure("s3.ingest_s3", s3_in, "MiB/s", baseline="s3.ingest_filesystem", note=note),
        Figure("s3.download_filesystem", fs_out, "MiB/s", note="GET .../recording"),
        Figure("s3.download_s3", s3_out, "MiB/s", baseline="s3.download_filesystem"),
        Figure("s3.client_aiobotocore_put", bc_put, "objects/s", note=f"{objects} x 1 MiB"),
        Figure(
            "s3.client_obstore_put",
            ob_put,
            "objects/s",
            baseline="s3.client_aiobotocore_put",
            target=at_least(1.0),
        ),
        Figure("s3.client_aiobotocore_get", bc_get, "objects/s"),
        Figure(
            "s3.client_obstore_get",
            ob_get,
            "objects/s",
            baseline="s3.client_aiobotocore_get",
            target=at_least(1.0),
        ),
    ]


if __name__ == "__main__":
    for line in summarize([run(tiny="--tiny" in sys.argv)]):
        print(line)
