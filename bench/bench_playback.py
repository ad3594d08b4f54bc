"""Playback figures: indexing a one-hour fragmented-MP4 recording, and serving it as HLS.

Run as ``python bench/bench_playback.py [--tiny] [NAME=VALUE ...]``; ``bench/run.py`` imports
``run()``.

The recording is synthetic, an hour of video without encoding an hour: the init segment of a
short real fragmented MP4 (``tests/media.py``, PyAV, 2-s fragments), then ``FRAGMENTS`` copies
of its first fragment's ``moof`` (``mfhd`` sequence number incremented, ``moof/traf/tfdt``
baseMediaDecodeTime rewritten to where the copy starts), each followed by an ``mdat`` holding
the real samples padded with incompressible bytes (an AES-CTR keystream) to ``FRAGMENT_BYTES``
(2 Mbit/s x 2 s, what Lucid's recorder writes). The reader does not check that ``trun``
sample sizes fit the ``mdat``, so this indexes as a real one-hour recording would; the bench
asserts that `MediaReader` finds every fragment at its start time.

- ``playback.indexing_share_of_ingest``: CPU (``time.process_time``) of indexing the stream
  cut into 1 MiB chunks as ``IndexMedia`` does per chunk (``MediaReader.resume(state)``,
  ``feed``, ``state()``; no store), against the in-process ingest pipeline of the same chunks
  (``bench_ingest.py``'s: BLAKE3 + seal + AEAD + the durable blob write, here with compression
  "none" as the service now stores video).
- ``playback.seal_*`` and ``playback.compressor_skip_saving``: sealing those chunks with zstd
  (the session default) against "none": what skipping the compressor for video saves.
- On a real ``lucid-sessions serve`` (embedded store) after uploading the stream (1 MiB chunks,
  one keep-alive connection) and stopping the session: the playlist's latency (its baseline
  the playback summary, which reads the same index), the time to the first body byte of a
  segment's ``Range`` of ``recording.mp4`` (its baseline the download of the chunk that holds
  the segment), the same on S3 (a RADOS Gateway as ``bench_s3.py`` gets one), and the server's
  RSS growth while a client streams the whole recording segment by segment, measured as
  ``bench_download.py`` measures its own (a fresh server, VmRSS just before, peak after).
"""

from __future__ import annotations

import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, the other benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers, tests.media
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

import anyio
import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tests.e2e.conftest import s3_env
from tests.media import fragmented_mp4
from tests.servers import ServiceProcess

from bench_ingest import _sealer
from bench_s3 import _gateway
from common import (
    MIB,
    RssSampler,
    create_recording_session,
    http_client,
    upload,
)
from figures import Figure, below, summarize
from lucid_sessions.adapters.fs.blob_store import FilesystemBlobStore
from lucid_sessions.domain.media import Fragment, MediaReader
from lucid_sessions.domain.ports.compressor import Algorithm

__all__ = ["run"]

FRAGMENTS, TINY_FRAGMENTS = 1800, 60  # 2-s fragments: one hour, two minutes
FRAGMENT_BYTES, TINY_FRAGMENT_BYTES = 500_000, 50_000  # 2 Mbit/s x 2 s
CHUNK = MIB
SEAL_CHUNKS = 64  # zstd against none: enough for a figure per MiB
CPU_ROUNDS = 2  # indexing and ingest CPU: the least of, alike
PLAYLIST_REQUESTS, TINY_PLAYLIST_REQUESTS = 200, 20
SEEK_REQUESTS, TINY_SEEK_REQUESTS = 100, 10
WARMUP = 10
TARGET_INDEXING_SHARE = 0.05
TARGET_PLAYLIST_P99_MS = 20
TARGET_SEEK_P99_MS = 50
TARGET_GROWTH_MIB = 32  # as download.*_rss_growth
SAMPLE_SECONDS = 0.002
SEED = 20240603
BASELINE_SESSION = "sess-benchplayback"
_BYTERANGE = re.compile(r"#EXT-X-BYTERANGE:(\d+)@(\d+)")
_MAP = re.compile(r'#EXT-X-MAP:URI="[^"]*",BYTERANGE="(\d+)@0"')


# -- the synthetic recording ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Recording:
    stream: bytes
    fragments: int
    fragment_bytes: int
    init_length: int
    ticks: int  # duration of a fragment, in ticks of `timescale`
    timescale: int

    @property
    def chunks(self) -> int:
        return math.ceil(len(self.stream) / CHUNK)

    def chunk(self, sequence: int) -> bytes:
        return self.stream[sequence * CHUNK : (sequence + 1) * CHUNK]

    def views(self) -> Iterator[memoryview]:
        whole = memoryview(self.stream)
        for at in range(0, len(whole), CHUNK):
            yield whole[at : at + CHUNK]


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset, size) of the boxes laid end to end in ``data[start:end]``."""
    at = start
    while at < end:
        size = int.from_bytes(data[at : at + 4], "big")
        if size < 8 or at + size > end:
            raise ValueError(f"a box of {size} bytes at {at} does not fit")
        yield bytes(data[at + 4 : at + 8]), at, size
        at += size


def _child(data: bytes | bytearray, offset: int, size: int, kind: bytes) -> tuple[int, int]:
    """The first `kind` box inside the box at `offset` (header of 8 bytes): (offset, size)."""
    for found, at, length in _boxes(data, offset + 8, offset + size):
        if found == kind:
            return at, length
    raise ValueError(f"no {kind!r} box in the box at {offset}")


def _recording(fragments: int, fragment_bytes: int) -> _Recording:
    """The init segment of `fragmented_mp4(8)` and `fragments` copies of its first fragment,
    each made `fragment_bytes` long with incompressible padding in its ``mdat``."""
    source = fragmented_mp4(8)
    reader = MediaReader()
    found = reader.feed(source)
    assert reader.init is not None, "tests.media made no fragmented MP4"
    assert found, "tests.media made no fragment"
    first = found[0]
    layout = list(_boxes(source, 0, len(source)))
    at = next(n for n, (kind, _, _) in enumerate(layout) if kind == b"moof")
    (_, moof_at, moof_size), (mdat_kind, mdat_at, mdat_size) = layout[at], layout[at + 1]
    assert mdat_kind == b"mdat"
    moof = bytearray(source[moof_at : moof_at + moof_size])
    samples = source[mdat_at + 8 : mdat_at + mdat_size]
    mfhd, _ = _child(moof, 0, len(moof), b"mfhd")
    traf, traf_size = _child(moof, 0, len(moof), b"traf")
    tfdt, _ = _child(moof, traf, traf_size, b"tfdt")
    tfdt_width = 8 if moof[tfdt + 8] == 1 else 4  # version 1: 64-bit baseMediaDecodeTime
    padding = fragment_bytes - len(moof) - 8 - len(samples)
    assert padding >= 0, f"a fragment of {fragment_bytes} bytes cannot hold the samples"
    mdat_header = (8 + len(samples) + padding).to_bytes(4, "big") + b"mdat"
    zeros = bytes(padding)
    keystream = Cipher(algorithms.AES(bytes(32)), modes.CTR(SEED.to_bytes(16, "big")))
    noise = keystream.encryptor()
    out = bytearray(source[: reader.init.length])
    for index in range(fragments):
        moof[mfhd + 12 : mfhd + 16] = (index + 1).to_bytes(4, "big")  # sequence_number
        start = first.start + index * first.duration
        moof[tfdt + 12 : tfdt + 12 + tfdt_width] = start.to_bytes(tfdt_width, "big")
        out += moof
        out += mdat_header
        out += samples
        out += noise.update(zeros)
    return _Recording(
        bytes(out),
        fragments,
        fragment_bytes,
        reader.init.length,
        first.duration,
        first.timescale,
    )


def _check_index(recording: _Recording, fragments: list[Fragment]) -> None:
    """The reader found every fragment, in place, at its start time."""
    assert len(fragments) == recording.fragments, f"{len(fragments)} fragments found"
    for index, fragment in enumerate(fragments):
        assert fragment.index == index
        assert fragment.offset == recording.init_length + index * recording.fragment_bytes
        assert fragment.length == recording.fragment_bytes
        assert fragment.start == index * recording.ticks, (index, fragment.start)
        assert fragment.duration == recording.ticks
        assert fragment.starts_on_sync


# -- in process -----------------------------------------------------------------------------


def _indexing_cpu(recording: _Recording) -> float:
    """CPU seconds of what `IndexMedia` does per chunk, without the store: resume the reader
    from the stored state, feed the chunk, save the state. Checks what it found."""
    state: bytes | None = None
    found: list[Fragment] = []
    cpu = 0.0
    for view in recording.views():
        began = time.process_time()
        reader = MediaReader() if state is None else MediaReader.resume(state)
        found += reader.feed(view)
        state = reader.state()
        cpu += time.process_time() - began
    assert state is not None
    assert MediaReader.resume(state).failure is None
    _check_index(recording, found)
    return cpu


def _ingest_cpu(recording: _Recording) -> float:
    """CPU seconds of the in-process ingest pipeline of every chunk, as the service treats
    video: BLAKE3 + seal without compression + AEAD + the durable blob write."""
    seal = _sealer("none")
    with tempfile.TemporaryDirectory(prefix="lucid-bench-blobs-") as folder:
        store = FilesystemBlobStore(Path(folder))

        async def work() -> float:
            cpu = 0.0
            for sequence in range(recording.chunks):
                data = recording.chunk(sequence)  # the copy is not counted
                began = time.process_time()
                await store.put(BASELINE_SESSION, sequence, seal(sequence, data))
                cpu += time.process_time() - began
            return cpu

        return anyio.run(work)


def _seal_cpu_ms_per_mib(recording: _Recording, compression: Algorithm, count: int) -> float:
    seal = _sealer(compression)
    chunks = [recording.chunk(sequence) for sequence in range(count)]
    began = time.process_time()
    for sequence, data in enumerate(chunks):
        seal(sequence, data)
    return (time.process_time() - began) * 1000 / (sum(map(len, chunks)) / MIB)


# -- through the service --------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _upload(client: httpx.Client, recording: _Recording) -> tuple[str, float]:
    """A new session holding the recording, stopped: its id and the upload's MiB/s."""
    session_id = create_recording_session(client, "playback bench")
    began = time.perf_counter()
    for sequence in range(recording.chunks):
        upload(client, session_id, sequence, recording.chunk(sequence))
    rate = len(recording.stream) / MIB / (time.perf_counter() - began)
    client.post(f"/api/v1/sessions/{session_id}/stop").raise_for_status()
    summary = client.get(f"/api/v1/sessions/{session_id}/playback").json()
    assert summary["playable"], summary
    assert summary["segments"] == recording.fragments, summary
    return session_id, rate


def _segments(client: httpx.Client, session_id: str, recording: _Recording) -> list[range]:
    """The byte ranges the playlist lists (checked against the recording)."""
    answer = client.get(f"/api/v1/sessions/{session_id}/playback/index.m3u8")
    answer.raise_for_status()
    text = answer.text
    mapped = _MAP.search(text)
    assert mapped is not None, text[:500]
    assert int(mapped.group(1)) == recording.init_length, text[:500]
    assert "#EXT-X-ENDLIST" in text
    listed = [
        range(int(offset), int(offset) + int(length)) for length, offset in _BYTERANGE.findall(text)
    ]
    assert len(listed) == recording.fragments, f"{len(listed)} segments listed"
    assert text.count("#EXTINF:") == recording.fragments
    assert listed[-1].stop == len(recording.stream)
    return listed


def _timed_get(client: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - began
    answer.raise_for_status()
    return elapsed * 1000


def _playlist_latencies(
    client: httpx.Client, session_id: str, count: int
) -> tuple[list[float], list[float], int]:
    """Milliseconds of `count` playlist GETs and `count` summary GETs, alternated after a
    warm-up; and the playlist's size in bytes."""
    playlist = f"/api/v1/sessions/{session_id}/playback/index.m3u8"
    summary = f"/api/v1/sessions/{session_id}/playback"
    for _ in range(WARMUP):
        _timed_get(client, playlist)
        _timed_get(client, summary)
    playlists, summaries = [], []
    for _ in range(count):
        playlists.append(_timed_get(client, playlist))
        summaries.append(_timed_get(client, summary))
    return playlists, summaries, len(client.get(playlist).content)


def _first_byte_ms(
    client: httpx.Client, path: str, expected: bytes, byte_range: range | None = None
) -> float:
    """Milliseconds from sending GET `path` (with `byte_range` as ``Range``) to the first
    byte of its body; the whole body is then read and checked."""
    headers = {} if byte_range is None else {"Range": f"bytes={byte_range[0]}-{byte_range[-1]}"}
    began = time.perf_counter()
    with client.stream("GET", path, headers=headers) as answer:
        pieces = answer.iter_raw()
        first = next(pieces, b"")
        elapsed = time.perf_counter() - began
        body = first + b"".join(pieces)
    wanted = 200 if byte_range is None else 206
    assert answer.status_code == wanted, f"GET {path}: {answer.status_code} {body[:300]!r}"
    assert body == expected, f"GET {path} {headers}: other bytes"
    return elapsed * 1000


def _seeks(
    client: httpx.Client,
    session_id: str,
    recording: _Recording,
    listed: list[range],
    count: int,
) -> tuple[list[float], list[float]]:
    """First-byte milliseconds of `count` segments of the middle third of the recording, at
    random, and of the chunk holding each one's first byte, alternated after a warm-up."""
    chooser = random.Random(SEED)
    middle = listed[len(listed) // 3 : 2 * len(listed) // 3]
    media = f"/api/v1/sessions/{session_id}/playback/recording.mp4"
    stream = recording.stream

    def seek(segment: range) -> float:
        return _first_byte_ms(client, media, stream[segment.start : segment.stop], segment)

    def chunk(segment: range) -> float:
        sequence = segment.start // CHUNK
        path = f"/api/v1/sessions/{session_id}/chunks/{sequence}/download"
        return _first_byte_ms(client, path, recording.chunk(sequence))

    for _ in range(WARMUP):
        segment = chooser.choice(middle)
        seek(segment)
        chunk(segment)
    seeks, chunks = [], []
    for _ in range(count):
        segment = chooser.choice(middle)
        seeks.append(seek(segment))
        chunks.append(chunk(segment))
    return seeks, chunks


@dataclass(frozen=True, slots=True)
class _Stream:
    sampler: RssSampler
    seconds: float


def _stream_whole(
    data_dir: Path, env: Mapping[str, str], session_id: str, recording: _Recording
) -> _Stream:
    """On a freshly started server: the playlist read once (what a player loads first), then
    the init segment and every segment by ``Range`` of ``recording.mp4``, one after the
    other, while `RssSampler` watches the server (as ``bench_download.py``)."""
    server = ServiceProcess(data_dir, env=env)
    server.start()
    try:
        pid = server.process.pid  # type: ignore[union-attr]
        media = f"/api/v1/sessions/{session_id}/playback/recording.mp4"
        stream = recording.stream
        with http_client(server.url) as client:
            client.get(f"/api/v1/sessions/{session_id}/playback").raise_for_status()
            listed = _segments(client, session_id, recording)
            time.sleep(0.2)
            ranges = [range(0, recording.init_length), *listed]
            began = time.perf_counter()
            with RssSampler(pid, SAMPLE_SECONDS) as sampler:
                for segment in ranges:
                    _first_byte_ms(client, media, stream[segment.start : segment.stop], segment)
            seconds = time.perf_counter() - began
        return _Stream(sampler, seconds)
    finally:
        server.stop()


@dataclass(frozen=True, slots=True)
class _Served:
    upload_rate: float
    playlists: list[float]
    summaries: list[float]
    playlist_bytes: int
    seeks: list[float]
    chunks: list[float]
    stream: _Stream | None


def _served(env: Mapping[str, str], recording: _Recording, tiny: bool, *, stream: bool) -> _Served:
    """Upload, stop, then the playlist and seek latencies on one server; with `stream`, the
    whole recording streamed on a freshly restarted one."""
    playlist_count = TINY_PLAYLIST_REQUESTS if tiny else PLAYLIST_REQUESTS
    seek_count = TINY_SEEK_REQUESTS if tiny else SEEK_REQUESTS
    with tempfile.TemporaryDirectory(prefix="lucid-bench-") as scratch:
        data_dir = Path(scratch)
        server = ServiceProcess(data_dir, env=env)
        server.start()
        try:
            with http_client(server.url) as client:
                session_id, rate = _upload(client, recording)
                listed = _segments(client, session_id, recording)
                playlists, summaries, size = _playlist_latencies(client, session_id, playlist_count)
                seeks, chunks = _seeks(client, session_id, recording, listed, seek_count)
        finally:
            server.stop()
        streamed = _stream_whole(data_dir, env, session_id, recording) if stream else None
    return _Served(rate, playlists, summaries, size, seeks, chunks, streamed)


def _latency_figures(
    name: str, values: list[float], baseline: str | None, goal: float | None, note: str = ""
) -> list[Figure]:
    return [
        Figure(f"{name}_p50", _percentile(values, 0.50), "ms", baseline and f"{baseline}_p50"),
        Figure(
            f"{name}_p99",
            _percentile(values, 0.99),
            "ms",
            baseline and f"{baseline}_p99",
            None if goal is None else below(goal),
            note,
        ),
    ]


def run(server_env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    """One run's figures; `server_env` adds environment variables to the servers."""
    fragments = TINY_FRAGMENTS if tiny else FRAGMENTS
    fragment_bytes = TINY_FRAGMENT_BYTES if tiny else FRAGMENT_BYTES
    recording = _recording(fragments, fragment_bytes)
    seconds = fragments * recording.ticks / recording.timescale

    indexing = ingest = float("inf")
    for _ in range(CPU_ROUNDS):  # interleaved, the least of each
        indexing = min(indexing, _indexing_cpu(recording))  # asserts what the reader found
        ingest = min(ingest, _ingest_cpu(recording))
    sealed = min(SEAL_CHUNKS, recording.chunks)
    seal_none = _seal_cpu_ms_per_mib(recording, "none", sealed)
    seal_zstd = _seal_cpu_ms_per_mib(recording, "zstd", sealed)

    env = {"LOG_LEVEL": "WARNING", **(server_env or {})}
    local = _served(env, recording, tiny, stream=True)
    assert local.stream is not None
    with tempfile.TemporaryDirectory(prefix="lucid-bench-s3-") as scratch:
        gateway = _gateway(Path(scratch))
        try:
            bucket = gateway.make_bucket()
            remote = _served({**env, **s3_env(gateway, bucket)}, recording, tiny, stream=False)
        finally:
            gateway.stop()

    chunks = recording.chunks
    streamed = local.stream
    mib = len(recording.stream) / MIB
    return [
        Figure(
            "playback.recording_MiB",
            mib,
            "MiB",
            note=f"{fragments} fragments of {fragment_bytes:,} bytes, {seconds / 60:.0f} min, "
            f"{chunks} chunks of 1 MiB; MediaReader found every fragment at its start time",
        ),
        Figure(
            "playback.ingest_cpu_ms_per_chunk",
            ingest / chunks * 1000,
            "ms",
            note="in process: BLAKE3 + seal (compression none) + AEAD + durable blob write; "
            f"CPU, the least of {CPU_ROUNDS} rounds as for indexing",
        ),
        Figure(
            "playback.indexing_share_of_ingest",
            indexing / chunks * 1000,
            "ms",
            "playback.ingest_cpu_ms_per_chunk",
            below(TARGET_INDEXING_SHARE, ratio=True),
            "CPU per chunk: MediaReader.resume(state) + feed + state()",
        ),
        Figure(
            "playback.seal_none_cpu_ms_per_MiB",
            seal_none,
            "ms",
            note=f"BLAKE3 + AEAD seal of {sealed} video-like chunks, no compression",
        ),
        Figure(
            "playback.seal_zstd_cpu_ms_per_MiB",
            seal_zstd,
            "ms",
            "playback.seal_none_cpu_ms_per_MiB",
            note="the same with zstd at the default level (stored uncompressed: no gain)",
        ),
        Figure(
            "playback.compressor_skip_saving",
            seal_zstd - seal_none,
            "ms/MiB",
            "playback.seal_zstd_cpu_ms_per_MiB",
            note="CPU saved per MiB of video by skipping zstd (ratio: share of zstd's sealing)",
        ),
        Figure(
            "playback.upload_MiB_per_s",
            local.upload_rate,
            "MiB/s",
            note="the stream in 1 MiB chunks, one connection, embedded store",
        ),
        *_latency_figures("playback.summary_one_hour", local.summaries, None, None),
        *_latency_figures(
            "playback.playlist_one_hour",
            local.playlists,
            "playback.summary_one_hour",
            TARGET_PLAYLIST_P99_MS,
            f"{fragments} segments, {local.playlist_bytes / 1024:.0f} KiB; baseline the "
            "summary: the same index read and grouping, without writing the playlist",
        ),
        *_latency_figures("playback.chunk_first_byte", local.chunks, None, None),
        *_latency_figures(
            "playback.seek_first_byte",
            local.seeks,
            "playback.chunk_first_byte",
            TARGET_SEEK_P99_MS,
            "Range of a segment in the middle third of recording.mp4; baseline GET "
            ".../chunks/{n}/download of the chunk holding its first byte",
        ),
        *_latency_figures("playback.chunk_first_byte_s3", remote.chunks, None, None),
        *_latency_figures(
            "playback.seek_first_byte_s3",
            remote.seeks,
            "playback.chunk_first_byte_s3",
            None,
            "chunk blobs on a RADOS Gateway",
        ),
        Figure(
            "playback.stream_MiB_per_s",
            mib / streamed.seconds,
            "MiB/s",
            note=f"init + {fragments} segment ranges of recording.mp4, one after the other",
        ),
        Figure(
            "playback.stream_rss_growth",
            streamed.sampler.growth_mib,
            "MiB",
            target=below(TARGET_GROWTH_MIB),
            note=f"peak {streamed.sampler.peak / 1024:.0f} MiB over "
            f"{streamed.sampler.before / 1024:.0f} MiB before "
            f"({'VmHWM' if streamed.sampler.exact else 'sampled'}), fresh server",
        ),
    ]


if __name__ == "__main__":
    arguments = [arg for arg in sys.argv[1:] if arg != "--tiny"]
    environment = dict(arg.split("=", 1) for arg in arguments)
    print("\n".join(summarize([run(environment, tiny="--tiny" in sys.argv)])))
