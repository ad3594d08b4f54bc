"""Benchmark of chunk ingest over HTTP against the same pipeline run in-process.

Run as ``python bench/bench_ingest.py [NAME=VALUE ...]`` (the pairs are added to the server's
environment, for experiments); ``bench/run.py`` imports ``main()`` instead.

Figures (issue 3, "Speed and memory"), all measured in this one run on the same chunks:

- ``ingest.inprocess_pipeline``: BLAKE3 + zstd (default level) + AEAD seal of every chunk,
  single-threaded, in this process: the baseline.
- ``ingest.inprocess_pipeline_store``: the same plus the server's durable blob write
  (``FilesystemBlobStore.put``: temporary file, fsync, rename, fsync of the folder).
- ``ingest.http_one_uploader``: sequential ``PUT .../chunks/{n}`` of the same chunks to a real
  ``lucid-sessions serve`` over one keep-alive connection; the ratio to the in-process
  pipeline is the issue's ">= 80%" target.
- ``ingest.http_two_uploaders``: two threads, two sessions, two connections, at once; the
  ratio to one uploader is the issue's ">= 1.6x on 2 cores" target.
- ``ingest.http_body_floor``: the same uploads to ``bench/sink_server.py``, the same uvicorn
  and Litestar stack and the service's own body reader, doing nothing with the bytes: what
  receiving alone costs (informational).
- ``ingest.cpu_ms_per_chunk``: CPU time of the server process and of this client per chunk,
  which bounds what two uploaders can reach on two cores (informational).
- ``ingest.server_stage_ms_per_chunk``: the server's own per-stage timings (``/pipeline``).
- ``ingest.http_bounded_protocol``: one uploader, its ratio to
  ``ingest.http_unbounded_protocol``, the same uploads to the service served by uvicorn's own
  httptools protocol (``bench/unbounded_serve.py``): what the limits before the app cost.

Every throughput is the best of ``ROUNDS`` rounds, and the rounds of all figures are
interleaved, so that drift (page cache, disk, other load on the machine) affects all alike.
The ratios mean something only on an otherwise idle machine (``bench/run.py`` reports how
busy the rest of the machine was).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, the other benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

import anyio
import httpx
from tests.servers import ADMIN_TOKEN, bearer, free_port

from common import (
    CHUNK_BYTES,
    MIB,
    UNBOUNDED,
    codec_and_keyring,
    cpu_seconds,
    create_recording_session,
    helper_server,
    http_client,
    running_server,
    screen_chunks,
    upload,
)
from figures import Figure, at_least, summarize
from lucid_sessions.adapters.fs.blob_store import FilesystemBlobStore
from lucid_sessions.domain.merkle import blake3_256
from lucid_sessions.domain.ports.compressor import Algorithm

__all__ = ["run"]

CHUNKS = 16  # per uploader and round: 128 MiB
ROUNDS = 2  # interleaved rounds per run, best of; bench/run.py takes the median of runs
TARGET_HTTP_RATIO = 0.85  # of pipeline + durable store
TARGET_PARALLEL_RATIO = 1.5
TARGET_FLOOR_RATIO = 2.0  # receiving is never the bottleneck
TARGET_LIMITS_RATIO = 0.95  # the limits before the app cost no more than noise
BASELINE_SESSION = "sess-benchbaseline"
SINK = Path(__file__).resolve().parent / "sink_server.py"


def _sealer(compression: Algorithm = "zstd") -> Callable[[int, bytes], bytes]:
    """What `IngestChunk` does to one chunk (minus the thread hops): BLAKE3, then compress
    (`compression`, default level; video skips it) and seal with the session's data key;
    returns the blob."""
    codec, keyring, cipher = codec_and_keyring()
    _, data_key = keyring.new_data_key()

    def seal(sequence: int, data: bytes) -> bytes:
        blake3_256(data)
        sealed = codec.seal(
            session_id=BASELINE_SESSION,
            sequence_number=sequence,
            data=data,
            compression=compression,
            level=None,
            cipher=cipher,
            data_key=data_key,
        )
        return sealed.data

    return seal


def _pipeline_seconds(chunks: list[bytes]) -> float:
    seal = _sealer()
    started = time.perf_counter()
    for sequence, data in enumerate(chunks):
        seal(sequence, data)
    return time.perf_counter() - started


def _pipeline_store_seconds(chunks: list[bytes]) -> float:
    """Hash + seal, one chunk at a time, each followed by the server's durable blob write."""
    seal = _sealer()
    with tempfile.TemporaryDirectory(prefix="lucid-bench-blobs-") as folder:
        store = FilesystemBlobStore(Path(folder))

        async def run() -> float:
            started = time.perf_counter()
            for sequence, data in enumerate(chunks):
                await store.put(BASELINE_SESSION, sequence, seal(sequence, data))
            return time.perf_counter() - started

        return anyio.run(run)


@dataclass
class _Uploads:
    """Best wall time over rounds, and CPU seconds summed over rounds."""

    seconds: float = float("inf")
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    chunks: int = 0
    errors: list[BaseException] = field(default_factory=list)

    def cpu_ms_per_chunk(self) -> tuple[float, float]:
        return self.server_cpu / self.chunks * 1000, self.client_cpu / self.chunks * 1000


def _upload_all(url: str, name: str | None, chunks: list[bytes], start: threading.Barrier) -> None:
    """One uploader: its own connection and session (`name`), or PUT /sink when None."""
    with http_client(url) as client:
        session_id = create_recording_session(client, name) if name else None
        client.get("/health")  # the connection is open before the clock starts
        start.wait()
        for sequence, data in enumerate(chunks):
            if session_id is None:
                response = client.put(
                    "/sink", content=data, headers={"Content-Type": "application/octet-stream"}
                )
                response.raise_for_status()
            else:
                upload(client, session_id, sequence, data)


def _http_round(
    url: str, pid: int, uploaders: int, chunks: list[bytes], label: str | None, into: _Uploads
) -> None:
    """`uploaders` threads each upload `chunks` to their own session at once."""
    start = threading.Barrier(uploaders + 1)

    def work(index: int) -> None:
        try:
            _upload_all(url, f"{label}-{index}" if label else None, chunks, start)
        except BaseException as exc:
            into.errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(uploaders)]
    for thread in threads:
        thread.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise into.errors[0] from None  # a worker failed: its error, not the barrier's
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if into.errors:
        raise into.errors[0]
    into.seconds = min(into.seconds, elapsed)
    into.server_cpu += cpu_seconds(pid) - server_cpu
    into.client_cpu += time.process_time() - client_cpu
    into.chunks += uploaders * len(chunks)


def _stage_ms_per_chunk(url: str, name_prefix: str) -> dict[str, float]:
    """Server-side milliseconds per chunk and stage, over sessions named `name_prefix*`."""
    totals: dict[str, float] = {}
    chunks = 0
    with httpx.Client(base_url=url, timeout=30.0, headers=bearer(ADMIN_TOKEN)) as client:
        listing = client.get("/api/v1/sessions", params={"limit": 100}).json()
        for session in listing["sessions"]:
            if not session["name"].startswith(name_prefix):
                continue
            pipeline = client.get(f"/api/v1/sessions/{session['session_id']}/pipeline").json()
            chunks += pipeline["overall_metrics"]["chunks_processed"]
            for stage in pipeline["stages"]:
                if stage["processed"]:
                    name = stage["stage_name"]
                    totals[name] = totals.get(name, 0.0) + float(stage["seconds"])
    return {name: seconds / chunks * 1000 for name, seconds in totals.items()} if chunks else {}


@contextmanager
def _sink_server(env: Mapping[str, str] | None) -> Iterator[tuple[str, int]]:
    """bench/sink_server.py on a free port: (url, pid)."""
    port = free_port()
    command = [sys.executable, str(SINK), str(port)]
    with helper_server(command, port, "bench/sink_server.py", {**os.environ, **(env or {})}) as up:
        yield up


def _rate(total_bytes: int, seconds: float) -> float:
    return total_bytes / MIB / seconds


def run(server_env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    """One run's figures; `server_env` adds environment variables to the servers."""
    count, size, rounds = (2, MIB, 1) if tiny else (CHUNKS, CHUNK_BYTES, ROUNDS)
    chunks = screen_chunks(count, size=size)
    total = size * count
    seal = _sealer()
    stored = sum(len(seal(n, data)) for n, data in enumerate(chunks))

    pipeline = pipeline_store = float("inf")
    one, two, floor, plain = _Uploads(), _Uploads(), _Uploads(), _Uploads()
    with (
        running_server(env=server_env) as server,
        running_server(env=server_env, launcher=UNBOUNDED) as unbounded,
        _sink_server(server_env) as (sink, sink_pid),
    ):
        pid = server.process.pid  # type: ignore[union-attr]
        plain_pid = unbounded.process.pid  # type: ignore[union-attr]
        _http_round(server.url, pid, 1, chunks[:2], "warmup", _Uploads())
        _http_round(unbounded.url, plain_pid, 1, chunks[:2], "warmup", _Uploads())
        _http_round(sink, sink_pid, 1, chunks[:2], None, _Uploads())
        # Interleaved rounds, best of each: a burst of load from elsewhere hits one round of
        # one figure rather than a whole figure.
        for round_no in range(1, rounds + 1):
            pipeline = min(pipeline, _pipeline_seconds(chunks))
            _http_round(server.url, pid, 1, chunks, f"one-{round_no}", one)
            _http_round(unbounded.url, plain_pid, 1, chunks, f"plain-{round_no}", plain)
            _http_round(server.url, pid, 2, chunks, f"two-{round_no}", two)
            pipeline_store = min(pipeline_store, _pipeline_store_seconds(chunks))
            _http_round(sink, sink_pid, 1, chunks, None, floor)
        stages = _stage_ms_per_chunk(server.url, "one-")

    one_server, _ = one.cpu_ms_per_chunk()
    two_server, _ = two.cpu_ms_per_chunk()
    floor_server, _ = floor.cpu_ms_per_chunk()
    detail = ", ".join(f"{name} {ms:.1f}" for name, ms in stages.items())
    return [
        Figure(
            "ingest.inprocess_pipeline",
            _rate(total, pipeline),
            "MiB/s",
            note=f"{count} x {size // MIB} MiB screen-like chunks, stored ratio "
            f"{total / stored:.1f}x: BLAKE3 + zstd + seal, single-threaded",
        ),
        Figure(
            "ingest.inprocess_pipeline_store",
            _rate(total, pipeline_store),
            "MiB/s",
            "ingest.inprocess_pipeline",
            note="+ durable blob write (temporary file, fsync, rename, folder fsync)",
        ),
        Figure(
            "ingest.http_one_uploader",
            _rate(total, one.seconds),
            "MiB/s",
            "ingest.inprocess_pipeline_store",
            at_least(TARGET_HTTP_RATIO),
            f"server stages per chunk (ms): {detail}" if detail else "",
        ),
        Figure(
            "ingest.http_two_uploaders",
            _rate(2 * total, two.seconds),
            "MiB/s",
            "ingest.http_one_uploader",
            at_least(TARGET_PARALLEL_RATIO),
        ),
        Figure(
            "ingest.http_body_floor",
            _rate(total, floor.seconds),
            "MiB/s",
            "ingest.inprocess_pipeline",
            at_least(TARGET_FLOOR_RATIO),
            "PUT to bench/sink_server.py: the same HTTP stack, the body read and dropped",
        ),
        Figure(
            "ingest.http_unbounded_protocol",
            _rate(total, plain.seconds),
            "MiB/s",
            note="one uploader, uvicorn's own httptools protocol (no limits before the app)",
        ),
        Figure(
            "ingest.http_bounded_protocol",
            _rate(total, one.seconds),
            "MiB/s",
            "ingest.http_unbounded_protocol",
            at_least(TARGET_LIMITS_RATIO),
            "what the header size and time limits cost",
        ),
        Figure("ingest.inprocess_cpu_ms_per_chunk", pipeline / count * 1000, "ms"),
        Figure(
            "ingest.server_cpu_ms_per_chunk",
            one_server,
            "ms",
            "ingest.inprocess_cpu_ms_per_chunk",
            note="one uploader",
        ),
        Figure(
            "ingest.server_cpu_ms_per_chunk_two_uploaders",
            two_server,
            "ms",
            "ingest.inprocess_cpu_ms_per_chunk",
        ),
        Figure(
            "ingest.body_floor_server_cpu_ms_per_chunk",
            floor_server,
            "ms",
            "ingest.inprocess_cpu_ms_per_chunk",
            note="receiving the body alone",
        ),
    ]


if __name__ == "__main__":
    print("\n".join(summarize([run(dict(arg.split("=", 1) for arg in sys.argv[1:]))])))
