"""Capacity figures for sizing a Pi: the disk a recording hour takes and the server's memory
while it records, for ``lucid-sessions serve`` on the embedded store.

A recorder at 1 Mbit/s sends one 125,000-byte chunk a second. Two kinds of stream, each for
SECONDS of recording, uploaded as fast as the server takes them: screen-like desktop frames
(``common.screen_chunks``: what compresses) and random bytes (an already-encoded video stream:
what does not). The disk figure is what the data folder takes (blobs, database, keys: the
allocated blocks, as du counts), measured after the server stopped (the database's
write-ahead log checkpointed) and scaled to an hour; the baseline is the stream itself
(1 Mbit/s for an hour is 450 MB), so the ratio is stored / sent. Peak RSS is the server's
during the uploads.

Run as ``python bench/bench_capacity.py``; ``bench/run.py`` imports ``run()``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, figures
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers

from common import (
    RssSampler,
    create_recording_session,
    http_client,
    running_server,
    screen_chunks,
    upload,
)
from figures import Figure, below, summarize

__all__ = ["run"]

BITRATE = 1_000_000  # bits per second
CHUNK = BITRATE // 8  # one second of recording per chunk
SECONDS, TINY_SECONDS = 120, 5
HOUR = 3600
MIB = 1024 * 1024


def _disk_bytes(folder: Path) -> int:
    """What the folder takes on disk (allocated blocks, as du counts), less the server log."""
    return sum(
        path.stat().st_blocks * 512
        for path in folder.rglob("*")
        if path.is_file() and path.name != "server.log"
    )


def _record(kind: str, chunks: list[bytes], env: Mapping[str, str]) -> list[Figure]:
    seconds = len(chunks)
    with tempfile.TemporaryDirectory(prefix="lucid-capacity-") as scratch:
        folder = Path(scratch)
        with running_server(folder, env=env) as server, http_client(server.url) as client:
            assert server.process is not None
            session_id = create_recording_session(client, f"capacity {kind}")
            with RssSampler(server.process.pid, interval=0.01) as rss:
                for sequence, data in enumerate(chunks):
                    upload(client, session_id, sequence, data)
        grown = _disk_bytes(folder)  # after the stop: the database's WAL is checkpointed
    per_hour = grown * HOUR / seconds
    return [
        Figure(f"capacity.{kind}.sent_per_hour", BITRATE / 8 * HOUR / MIB, "MiB"),
        Figure(
            f"capacity.{kind}.disk_per_hour",
            per_hour / MIB,
            "MiB",
            baseline=f"capacity.{kind}.sent_per_hour",
            note=f"at {BITRATE // 1000} kbit/s, {CHUNK}-byte chunks, from {seconds} s",
        ),
        Figure(
            f"capacity.{kind}.peak_rss",
            rss.peak / 1024,
            "MiB",
            target=below(256),
            note="the server while recording (a Pi has 2-4 GB)",
        ),
    ]


def run(env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    seconds = TINY_SECONDS if tiny else SECONDS
    environment = dict(env or {})
    return [
        *_record("screen", screen_chunks(seconds, size=CHUNK), environment),
        *_record("encoded", [os.urandom(CHUNK) for _ in range(seconds)], environment),
    ]


if __name__ == "__main__":
    for line in summarize([run(tiny="--tiny" in sys.argv)]):
        print(line)
