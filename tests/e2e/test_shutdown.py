"""Graceful shutdown: SIGTERM while recorders upload. The server stops accepting, lets the
uploads in flight finish, exits 0; after a restart every acknowledged chunk is there, byte
for byte, and no blob is half-written."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_chunks_http import OCTETS, noise, recording, session, upload
from tests.servers import ServiceProcess
from tests.stored_blobs import blob_names, temporaries

pytestmark = pytest.mark.e2e

BASE = "/api/v1/sessions"
RECORDERS = 3
CHUNK = 512 * 1024


def _chunk(recorder: int, seq: int) -> bytes:
    return noise(recorder * 10_000 + seq, CHUNK)


def test_sigterm_during_uploads_loses_nothing_acknowledged(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    service = ServiceProcess(
        tmp_path / "svc", env={**stack_env, "LUCID_SHUTDOWN_GRACE_SECONDS": "20"}
    )
    service.data_dir.mkdir()
    service.start()
    with service.client() as http:
        sids = [recording(http, name=f"recorder {n}") for n in range(RECORDERS)]
    acked: dict[int, list[int]] = {n: [] for n in range(RECORDERS)}
    endings: dict[int, str] = {}

    def recorder(n: int) -> None:
        with service.client(timeout=30.0) as http:
            for seq in range(10_000):
                try:
                    response = http.put(
                        f"{BASE}/{sids[n]}/chunks/{seq}",
                        content=_chunk(n, seq),
                        headers={"Content-Type": OCTETS},
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
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while sum(map(len, acked.values())) < 8 * RECORDERS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    code = service.process.wait(timeout=60)
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    service.process = None
    log = service.log_path.read_text()
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
    finally:
        assert service.stop_gracefully()
