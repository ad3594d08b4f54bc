"""deploy/backup.sh and deploy/restore.sh on a real server and real files: a backup taken
while a recorder uploads restores every acknowledged byte, the manifests, the session log and
the keys, and the restored service goes on recording. (MongoDB's part, mongodump in its
container, cannot run here: no mongod and no image registry; the embedded store is covered.)"""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.http import BASE, OCTETS, eventually
from tests.servers import ServiceProcess

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WAIT_SECONDS = 30  # the longest any wait of this test may take


def _session(http: httpx.Client, name: str) -> str:
    created = http.post(BASE, json={"name": name, "rdp_config": {"host": "10.0.0.9"}})
    assert created.status_code == 201, created.text
    sid = str(created.json()["session_id"])
    assert http.post(f"{BASE}/{sid}/start").status_code == 200
    return sid


def _chunk(sid: str, seq: int) -> bytes:
    return hashlib.sha256(f"{sid}:{seq}".encode()).digest() * (2000 + seq)


def _upload(http: httpx.Client, sid: str, seq: int) -> None:
    answer = http.put(f"{BASE}/{sid}/chunks/{seq}", content=_chunk(sid, seq), headers=OCTETS)
    assert answer.status_code == 201, answer.text


def _completed(http: httpx.Client, sid: str) -> dict[str, object]:
    eventually(
        lambda: http.get(f"{BASE}/{sid}").json()["status"] == "completed",
        f"session {sid} completes",
        WAIT_SECONDS,
    )
    return dict(http.get(f"{BASE}/{sid}/manifest").json())


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], capture_output=True, text=True, timeout=120)


def test_a_backup_taken_while_recording_restores_everything(tmp_path: Path) -> None:
    live = ServiceProcess(tmp_path / "live")
    live.data_dir.mkdir()
    live.start()
    archive = tmp_path / "backup.tar"
    acknowledged: list[int] = []
    try:
        with live.client() as http:
            done = _session(http, "finished")
            for seq in range(5):
                _upload(http, done, seq)
            assert http.post(f"{BASE}/{done}/stop").status_code == 200
            manifest = _completed(http, done)
            head = http.get(f"{BASE}/log").json()
            recording = _session(http, "still recording")
            stop = threading.Event()
            failed: list[BaseException] = []

            def recorder() -> None:  # uploads go on while the backup runs
                try:
                    with live.client() as uploads:
                        seq = 0
                        while not stop.is_set() and seq < 400:
                            _upload(uploads, recording, seq)
                            acknowledged.append(seq)
                            seq += 1
                except BaseException as exc:  # reported in the main thread
                    failed.append(exc)

            thread = threading.Thread(target=recorder)
            thread.start()

            def five_acknowledged() -> bool:
                assert not failed, failed
                assert thread.is_alive(), "the recorder stopped before 5 chunks"
                return len(acknowledged) >= 5

            eventually(five_acknowledged, "5 chunks acknowledged", WAIT_SECONDS, 0.01)
            backup = _script(str(DEPLOY / "backup.sh"), str(live.data_dir), str(archive))
            stop.set()
            thread.join(WAIT_SECONDS)
            assert not thread.is_alive(), f"the recorder did not stop in {WAIT_SECONDS}s"
            assert not failed, failed
            assert backup.returncode == 0, backup.stderr
    finally:
        assert live.stop_gracefully()
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds keys: private"

    target = tmp_path / "restored"
    restored = _script(str(DEPLOY / "restore.sh"), str(archive), str(target))
    assert restored.returncode == 0, restored.stderr
    again = _script(str(DEPLOY / "restore.sh"), str(archive), str(target))
    assert again.returncode == 2
    assert "not empty" in again.stderr

    service = ServiceProcess(target)
    service.start()
    try:
        with service.client() as http:
            for seq in range(5):
                got = http.get(f"{BASE}/{done}/chunks/{seq}/download")
                assert got.status_code == 200
                assert got.content == _chunk(done, seq)
            assert http.get(f"{BASE}/{done}/manifest").json() == manifest
            restored_head = http.get(f"{BASE}/log").json()
            assert (restored_head["tree_size"], restored_head["root"]) == (
                head["tree_size"],
                head["root"],
            )
            # Whatever the copied database names is there, byte for byte, and the recorder
            # goes on from the next sequence number.
            listed = http.get(f"{BASE}/{recording}/chunks", params={"limit": 1000}).json()
            sequence = [item["sequence_number"] for item in listed["chunks"]]
            assert sequence, listed
            assert sequence == list(range(len(sequence))), listed
            assert set(sequence) <= set(acknowledged)
            for seq in sequence:
                got = http.get(f"{BASE}/{recording}/chunks/{seq}/download")
                assert got.status_code == 200
                assert got.content == _chunk(recording, seq)
            _upload(http, recording, len(sequence))
            assert http.post(f"{BASE}/{recording}/stop").status_code == 200
            _completed(http, recording)
        verified = service.run_cli("verify", done)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        assert service.stop_gracefully()
