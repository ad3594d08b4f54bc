"""Graceful shutdown: SIGTERM while recorders upload. The server stops accepting, lets the
uploads in flight finish, exits 0; after a restart every acknowledged chunk is there, byte
for byte, and no blob is half-written.

One upload is sending its body, slowly, when SIGTERM arrives (and goes on sending after it):
it must be answered 201 within the grace period, and be stored. (A recorder may end on a
dropped connection, as the server stops accepting; this one must not.)"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.http import BASE, OCTETS, eventually
from tests.e2e.test_chunks_http import b3, noise, recording, session, upload
from tests.servers import ServiceProcess
from tests.stored_blobs import blob_names, temporaries

pytestmark = pytest.mark.e2e

RECORDERS = 3
CHUNK = 512 * 1024
GRACE_SECONDS = 20  # LUCID_SHUTDOWN_GRACE_SECONDS
SLOW_PIECES, SLOW_PIECE = 24, 16 * 1024
SLOW_BEFORE = 6  # pieces sent before SIGTERM; the rest after it, 50 ms apart


def _chunk(recorder: int, seq: int) -> bytes:
    return noise(recorder * 10_000 + seq, CHUNK)


def test_sigterm_during_uploads_loses_nothing_acknowledged(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    service = ServiceProcess(
        tmp_path / "svc",
        env={**stack_env, "LUCID_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS)},
    )
    service.data_dir.mkdir()
    service.start()
    with service.client() as http:
        sids = [recording(http, name=f"recorder {n}") for n in range(RECORDERS)]
        slow_sid = recording(http, name="slow recorder")
    acked: dict[int, list[int]] = {n: [] for n in range(RECORDERS)}
    endings: dict[int, str] = {}

    slow_data = noise(99_999, SLOW_PIECES * SLOW_PIECE)
    in_flight, terminated = threading.Event(), threading.Event()
    slow: dict[str, Any] = {}

    def slow_body() -> Iterator[bytes]:
        for n in range(SLOW_PIECES):
            if n == SLOW_BEFORE:
                in_flight.set()  # part of the body is sent: the upload is in flight
                assert terminated.wait(60), "SIGTERM was never sent"
            if terminated.is_set():
                time.sleep(0.05)
            yield slow_data[n * SLOW_PIECE : (n + 1) * SLOW_PIECE]

    def slow_recorder() -> None:
        try:
            with service.client(timeout=60.0) as http:
                slow["response"] = http.put(
                    f"{BASE}/{slow_sid}/chunks/0", content=slow_body(), headers=OCTETS
                )
                slow["answered"] = time.monotonic()
        except BaseException as exc:  # reported in the main thread
            slow["error"] = exc

    def recorder(n: int) -> None:
        with service.client(timeout=30.0) as http:
            for seq in range(10_000):
                try:
                    response = http.put(
                        f"{BASE}/{sids[n]}/chunks/{seq}",
                        content=_chunk(n, seq),
                        headers=OCTETS,
                    )
                except httpx.TransportError as exc:
                    endings[n] = type(exc).__name__  # the server closed its side
                    return
                if response.status_code == 201:
                    acked[n].append(seq)
                    continue
                assert response.status_code == 503, response.text
                assert response.headers.get("retry-after"), response.headers
                endings[n] = "503"
                return

    threads = [threading.Thread(target=recorder, args=(n,)) for n in range(RECORDERS)]
    slow_thread = threading.Thread(target=slow_recorder)
    for thread in [*threads, slow_thread]:
        thread.start()
    eventually(
        lambda: sum(map(len, acked.values())) >= 8 * RECORDERS,
        f"8 chunks of each of the {RECORDERS} recorders acknowledged",
        timeout=60,
        every=0.01,
    )
    assert in_flight.wait(30), slow
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    terminated.set()
    code = service.process.wait(timeout=60)
    for thread in [*threads, slow_thread]:
        thread.join(60)
        assert not thread.is_alive()
    service.process = None
    log = service.log_path.read_text()
    assert "error" not in slow, f"the upload in flight was cut off: {slow['error']!r}"
    answer = slow["response"]
    assert answer.status_code == 201, answer.text
    assert answer.json()["blake3"] == b3(slow_data)
    assert slow["answered"] - signalled < GRACE_SECONDS, "answered within the grace period"
    assert code == 0, log[-3000:]
    assert '"stopped"' in log
    assert "Traceback" not in log
    assert set(endings) == set(range(RECORDERS)), "every recorder was turned away"
    print("acknowledged before the stop:", {n: len(a) for n, a in acked.items()}, endings)

    service.start()
    try:
        with service.client() as http:
            for n, sid in enumerate(sids):
                stored = session(http, sid)
                count = stored["statistics"]["chunks_count"]
                assert stored["status"] == "recording"
                # A chunk committed as the connection went could be unacknowledged; never
                # the other way round.
                assert len(acked[n]) <= count <= len(acked[n]) + 1, (n, len(acked[n]), count)
                assert acked[n] == list(range(len(acked[n])))
                for seq in range(count):
                    got = http.get(f"{BASE}/{sid}/chunks/{seq}/download")
                    assert got.status_code == 200, got.text
                    assert got.content == _chunk(n, seq)
                assert not temporaries(service, sid), "no half-written blob"
                assert blob_names(service, sid) == [f"{s:012d}.lsb" for s in range(count)]
                upload(http, sid, count, _chunk(n, count))  # the recorder resumes
            # The upload that was in flight at SIGTERM is stored, whole.
            assert session(http, slow_sid)["statistics"]["chunks_count"] == 1
            got = http.get(f"{BASE}/{slow_sid}/chunks/0/download")
            assert got.status_code == 200, got.text
            assert got.content == slow_data
            assert not temporaries(service, slow_sid), "no half-written blob"
            assert blob_names(service, slow_sid) == ["000000000000.lsb"]
    finally:
        assert service.stop_gracefully()
