"""Tampered blobs are refused (never wrong bytes), and a SIGKILL mid-stream loses nothing
that was acknowledged."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lucid_sessions.domain.merkle import root_from_leaf_hashes
from tests.e2e.http import BASE, OCTETS, metric
from tests.e2e.test_chunks_http import (
    assert_no_path,
    b3,
    download,
    leaf_hex,
    noise,
    put_chunk,
    recording,
    screen_like,
    session,
    upload,
    wait_status,
)
from tests.e2e.test_sessions_http import assert_error
from tests.servers import ServiceProcess
from tests.stored_blobs import StoredBlob, blob_names, on_s3, stored_blob, temporaries

pytestmark = pytest.mark.e2e


def verify_cli(server: ServiceProcess, sid: str) -> subprocess.CompletedProcess[str]:
    """`lucid-sessions verify SID` beside the server, with the server's configuration."""
    return server.run_cli("verify", sid)


def read_recording(
    client: httpx.Client, sid: str, **headers: str
) -> tuple[int, int | None, bytes, bool]:
    """(status, announced length, bytes received, whether the stream broke off)."""
    received = bytearray()
    broke = False
    with client.stream("GET", f"{BASE}/{sid}/recording", headers=headers) as response:
        announced = response.headers.get("content-length")
        try:
            for piece in response.iter_raw():
                received += piece
        except (httpx.RemoteProtocolError, httpx.ReadError):
            broke = True
        status = response.status_code
    return status, None if announced is None else int(announced), bytes(received), broke


# -- tampering --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vault(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("vault"), env=stack_env)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def vclient(vault: ServiceProcess) -> Iterator[httpx.Client]:
    with vault.client(timeout=30.0) as http:
        yield http


def three_chunks(seed: int) -> list[bytes]:
    return [screen_like(seed, 90_000), noise(seed + 1, 40_000), screen_like(seed + 2, 70_000)]


Mutation = Callable[[StoredBlob, StoredBlob], None]


def flip(offset: Callable[[int], int]) -> Mutation:
    def mutate(blob: StoredBlob, _other: StoredBlob) -> None:
        data = bytearray(blob.read())
        data[offset(len(data))] ^= 0x01
        blob.write(bytes(data))

    return mutate


def truncate(keep: Callable[[int], int]) -> Mutation:
    def mutate(blob: StoredBlob, _other: StoredBlob) -> None:
        data = blob.read()
        blob.write(data[: keep(len(data))])

    return mutate


def extend(blob: StoredBlob, _other: StoredBlob) -> None:
    blob.write(blob.read() + b"\x00")


def copy_over(blob: StoredBlob, other: StoredBlob) -> None:
    blob.write(other.read())


def remove(blob: StoredBlob, _other: StoredBlob) -> None:
    blob.delete()


MUTATIONS: dict[str, Mutation] = {
    "flip-payload-middle": flip(lambda n: n // 2),
    "flip-last-byte": flip(lambda n: n - 1),
    "flip-header-magic": flip(lambda n: 0),
    "flip-header-compression": flip(lambda n: 5),
    "flip-header-original-size": flip(lambda n: 16),
    "flip-after-header": flip(lambda n: 30),
    "truncate-10": truncate(lambda n: n - 10),
    "truncate-to-header": truncate(lambda n: 25),
    "truncate-empty": truncate(lambda n: 0),
    "extend-1": extend,
    "missing": remove,
}

STORAGE_MODES = {
    "encrypted-zstd": ({"compression": "zstd"}, {}),
    "plain-zstd": ({"compression": "zstd"}, {"encryption_enabled": False}),
    "plain-lz4": ({"compression": "lz4"}, {"encryption_enabled": False}),
    "plain-none": ({"compression": "none"}, {"encryption_enabled": False}),
}


def assert_refused_as_corrupt(
    client: httpx.Client, server: ServiceProcess, sid: str, seq: int
) -> None:
    response = download(client, sid, seq)
    body = assert_error(response, 500, "corrupt", f"chunk {seq}")
    assert_no_path(response, server.data_dir)
    assert body["detail"] != "Internal Server Error"
    ranged = download(client, sid, seq, Range="bytes=0-9")
    assert_error(ranged, 500, "corrupt", f"chunk {seq}")


def assert_recording_never_wrong(
    client: httpx.Client, sid: str, chunks: list[bytes], bad: int
) -> None:
    whole = b"".join(chunks)
    status, announced, received, broke = read_recording(client, sid)
    if bad == 0:
        assert status == 500, (status, len(received))
    assert status in (200, 500), status
    if status == 200:
        # Headers went out before the corrupt chunk was reached: the stream must break off,
        # and what did arrive is a true prefix of the recording.
        assert broke or announced is None or len(received) < announced
        assert len(received) < len(whole)
        assert whole.startswith(received)
    # A range that starts inside the corrupt chunk is refused before any byte.
    start = sum(len(c) for c in chunks[:bad]) + 5
    ranged = client.get(f"{BASE}/{sid}/recording", headers={"Range": f"bytes={start}-"})
    assert_error(ranged, 500, "corrupt", f"chunk {bad}")


@pytest.mark.parametrize("mode", list(STORAGE_MODES))
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_tampered_blob_is_refused(
    vclient: httpx.Client, vault: ServiceProcess, mode: str, mutation: str
) -> None:
    if on_s3(vault) and mode not in ("encrypted-zstd", "plain-none"):
        pytest.skip("two storage modes on S3 (the suite's time budget); four on the others")
    recording_config, storage_config = STORAGE_MODES[mode]
    sid = recording(vclient, recording_config=recording_config, storage_config=storage_config)
    chunks = three_chunks(len(mutation) * 31 + len(mode))
    for seq, data in enumerate(chunks):
        upload(vclient, sid, seq, data)
    bad = 1
    MUTATIONS[mutation](stored_blob(vault, sid, bad), stored_blob(vault, sid, 2))
    assert_refused_as_corrupt(vclient, vault, sid, bad)
    for seq in (0, 2):  # the others are unharmed
        assert download(vclient, sid, seq).content == chunks[seq]
    assert_recording_never_wrong(vclient, sid, chunks, bad)
    # A recording from a clean range still works.
    tail = vclient.get(f"{BASE}/{sid}/recording", headers={"Range": f"bytes=-{len(chunks[2])}"})
    assert tail.status_code == 206
    assert tail.content == chunks[2]


@pytest.mark.parametrize("mode", list(STORAGE_MODES))
def test_first_chunk_corrupt_refuses_the_recording(
    vclient: httpx.Client, vault: ServiceProcess, mode: str
) -> None:
    recording_config, storage_config = STORAGE_MODES[mode]
    sid = recording(vclient, recording_config=recording_config, storage_config=storage_config)
    chunks = three_chunks(77)
    for seq, data in enumerate(chunks):
        upload(vclient, sid, seq, data)
    flip(lambda n: n // 2)(stored_blob(vault, sid, 0), stored_blob(vault, sid, 1))
    assert_refused_as_corrupt(vclient, vault, sid, 0)
    response = vclient.get(f"{BASE}/{sid}/recording")
    assert_error(response, 500, "corrupt", "chunk 0")


def test_recording_breaks_off_visibly_at_a_corrupt_chunk(
    vclient: httpx.Client, vault: ServiceProcess
) -> None:
    """Chunk 1 of 3 is corrupt: the 200 and chunk 0 are out, then the server closes the
    connection short of the announced Content-Length; the chunk is logged and counted."""
    sid = recording(vclient)
    chunks = three_chunks(2026)
    for seq, data in enumerate(chunks):
        upload(vclient, sid, seq, data)
    flip(lambda n: n // 2)(stored_blob(vault, sid, 1), stored_blob(vault, sid, 2))
    before = metric(vclient, "lucid_chunks_corrupt_total", exact=True)
    status, announced, received, broke = read_recording(vclient, sid)
    assert status == 200
    assert announced == sum(len(c) for c in chunks)
    assert broke, "the client sees an error, not a short body that looks whole"
    assert received == chunks[0][: len(received)]
    assert len(received) <= len(chunks[0])
    assert metric(vclient, "lucid_chunks_corrupt_total", exact=True) == before + 1
    log = vault.log_path.read_text()
    assert '"chunk_corrupt"' in log
    assert f'"session_id": "{sid}"' in log or f'"session_id":"{sid}"' in log
    assert '"response_aborted"' in log
    assert "Traceback" not in log
    # The service goes on serving on new connections.
    assert download(vclient, sid, 0).content == chunks[0]


@pytest.mark.parametrize("mode", list(STORAGE_MODES))
def test_blob_copied_over_another_sequence_number(
    vclient: httpx.Client, vault: ServiceProcess, mode: str
) -> None:
    recording_config, storage_config = STORAGE_MODES[mode]
    sid = recording(vclient, recording_config=recording_config, storage_config=storage_config)
    chunks = three_chunks(91)
    for seq, data in enumerate(chunks):
        upload(vclient, sid, seq, data)
    copy_over(stored_blob(vault, sid, 1), stored_blob(vault, sid, 2))
    assert_refused_as_corrupt(vclient, vault, sid, 1)
    assert_recording_never_wrong(vclient, sid, chunks, 1)


@pytest.mark.parametrize("same_bytes", [False, True])
@pytest.mark.parametrize("mode", list(STORAGE_MODES))
def test_blob_copied_from_another_session(
    vclient: httpx.Client, vault: ServiceProcess, mode: str, same_bytes: bool
) -> None:
    recording_config, storage_config = STORAGE_MODES[mode]
    victim = recording(vclient, recording_config=recording_config, storage_config=storage_config)
    donor = recording(vclient, recording_config=recording_config, storage_config=storage_config)
    chunks = three_chunks(123)
    donor_chunks = chunks if same_bytes else three_chunks(456)
    for seq in range(3):
        upload(vclient, victim, seq, chunks[seq])
        upload(vclient, donor, seq, donor_chunks[seq])
    copy_over(stored_blob(vault, victim, 1), stored_blob(vault, donor, 1))
    if same_bytes and mode.startswith("plain"):
        # An unencrypted blob carries no binding to its session: identical bytes copied
        # from another session are indistinguishable, and still the right bytes.
        assert download(vclient, victim, 1).content == chunks[1]
        return
    assert_refused_as_corrupt(vclient, vault, victim, 1)
    assert_recording_never_wrong(vclient, victim, chunks, 1)
    assert download(vclient, donor, 1).content == donor_chunks[1]


def test_stop_with_a_corrupt_blob_fails_finalization(
    vclient: httpx.Client, vault: ServiceProcess
) -> None:
    sid = recording(vclient)
    chunks = three_chunks(5)
    for seq, data in enumerate(chunks):
        upload(vclient, sid, seq, data)
    flip(lambda n: n // 2)(stored_blob(vault, sid, 2), stored_blob(vault, sid, 0))
    assert vclient.post(f"{BASE}/{sid}/stop").status_code == 200
    final = wait_status(vclient, sid, {"completed", "failed"})
    assert final["status"] == "failed", final
    assert "chunk 2" in (final["error"] or "")
    manifest = vclient.get(f"{BASE}/{sid}/manifest").json()
    assert manifest["signature"] is None
    assert vclient.get("/health").status_code == 200


def test_verify_cli_reports_corrupt_chunks(vclient: httpx.Client, vault: ServiceProcess) -> None:
    intact = recording(vclient)
    damaged = recording(vclient, storage_config={"encryption_enabled": False})
    moved = recording(vclient)
    for sid in (intact, damaged, moved):
        for seq, data in enumerate(three_chunks(900)):
            upload(vclient, sid, seq, data)
    flip(lambda n: n - 1)(stored_blob(vault, damaged, 2), stored_blob(vault, damaged, 0))
    copy_over(stored_blob(vault, moved, 0), stored_blob(vault, moved, 1))
    ok = verify_cli(vault, intact)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert intact in ok.stdout
    for sid, seq in ((damaged, 2), (moved, 0)):
        done = verify_cli(vault, sid)
        assert done.returncode != 0, done.stdout + done.stderr
        report = done.stdout + done.stderr
        assert f"chunk {seq}" in report, report
        assert "Traceback" not in report
    missing = verify_cli(vault, "sess-00000000000000000000000000")
    assert missing.returncode != 0
    assert "Traceback" not in missing.stdout + missing.stderr


# -- crash ------------------------------------------------------------------------------------

CRASH_CHUNKS = 200
CRASH_CHUNK_BYTES = 256 * 1024


def crash_chunk(seed: int, seq: int) -> bytes:
    # Varied: compressible screens, incompressible noise, and a few tiny chunks.
    if seq % 7 == 3:
        return noise(seed * 1000 + seq, CRASH_CHUNK_BYTES)
    if seq % 11 == 5:
        return noise(seed * 1000 + seq, seq)
    return screen_like(seed * 1000 + seq, CRASH_CHUNK_BYTES - seq)


@pytest.mark.parametrize("seed", [11, 29])
def test_sigkill_mid_stream_loses_nothing_acknowledged(
    tmp_path: Path, seed: int, stack_env: dict[str, str]
) -> None:
    if seed != 11 and stack_env.get("LUCID_BLOB_STORE") == "s3":
        pytest.skip("one kill point on S3 (the suite's time budget); two on the other stacks")
    rng = random.Random(seed)
    service = ServiceProcess(tmp_path / "crash", env=stack_env)
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(timeout=30.0) as http:
            sid = recording(http)
        acked: dict[int, int] = {}
        failure: dict[str, Any] = {}
        done = threading.Event()

        def recorder() -> None:
            with service.client(timeout=30.0) as http:
                for seq in range(CRASH_CHUNKS):
                    try:
                        response = put_chunk(http, sid, seq, crash_chunk(seed, seq))
                    except httpx.TransportError as exc:
                        failure["at"], failure["error"] = seq, exc
                        break
                    if response.status_code not in (200, 201):
                        failure["at"], failure["status"] = seq, response.status_code
                        break
                    acked[seq] = response.status_code
            done.set()

        thread = threading.Thread(target=recorder)
        thread.start()
        target = rng.randrange(15, 120)
        deadline = time.monotonic() + 60
        while len(acked) < target and not done.is_set() and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.02))
        service.kill()
        thread.join(60)
        assert not thread.is_alive()
        assert "status" not in failure, failure
        assert len(acked) < CRASH_CHUNKS, "the kill must land mid-stream"
        assert sorted(acked) == list(range(len(acked)))
        service.start()
        with service.client(timeout=30.0) as http:
            after = session(http, sid)
            count = after["statistics"]["chunks_count"]
            assert after["status"] == "recording"
            assert len(acked) <= count <= len(acked) + 1, (len(acked), count)
            expected = [crash_chunk(seed, seq) for seq in range(count)]
            for seq in range(count):  # acknowledged and committed: byte-exact, authenticated
                response = download(http, sid, seq)
                assert response.status_code == 200, (seq, response.text)
                assert response.content == expected[seq], seq
            assert after["statistics"]["size_bytes"] == sum(map(len, expected))
            leaves = [bytes.fromhex(leaf_hex(data)) for data in expected]
            assert after["merkle_root"] == root_from_leaf_hashes(leaves).hex()
            # Nothing partial is visible: the next sequence number is not a chunk.
            assert_error(http.get(f"{BASE}/{sid}/chunks/{count}"), 404)
            assert_error(download(http, sid, count), 404)
            listed = http.get(f"{BASE}/{sid}/chunks", params={"limit": 1000}).json()
            assert listed["total"] == count
            assert [c["sequence_number"] for c in listed["chunks"]] == list(range(count))
            assert [c["blake3"] for c in listed["chunks"]] == [b3(d) for d in expected]
            # The recorder resumes from the first unacknowledged chunk.
            resume = len(acked)
            again = put_chunk(http, sid, resume, crash_chunk(seed, resume))
            assert again.status_code == (200 if count > resume else 201), again.text
            assert again.json()["blake3"] == b3(crash_chunk(seed, resume))
            for seq in range(resume + 1, resume + 6):
                upload(http, sid, seq, crash_chunk(seed, seq))
            final_count = resume + 6
            assert session(http, sid)["statistics"]["chunks_count"] == final_count
            whole = http.get(f"{BASE}/{sid}/recording")
            assert whole.status_code == 200
            assert whole.content == b"".join(crash_chunk(seed, s) for s in range(final_count))
            assert http.post(f"{BASE}/{sid}/stop").status_code == 200
            final = wait_status(http, sid, {"completed", "failed"}, timeout=30)
            assert final["status"] == "completed", final
            manifest = http.get(f"{BASE}/{sid}/manifest").json()
            assert manifest["chunks_count"] == final_count
            assert manifest["signature"]
        # No committed blob is a temporary file, and no temporary is named like a blob.
        assert blob_names(service, sid) == [f"{s:012d}.lsb" for s in range(final_count)]
        report = verify_cli(service, sid)
        assert report.returncode == 0, report.stdout + report.stderr
    finally:
        service.stop()


def test_upload_survives_a_restart_between_chunks(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """A graceful restart keeps everything too (the baseline of the crash test)."""
    service = ServiceProcess(tmp_path / "restart", env=stack_env)
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(timeout=30.0) as http:
            sid = recording(http)
            data = [screen_like(s, 10_000) for s in range(3)]
            for seq, chunk in enumerate(data):
                upload(http, sid, seq, chunk)
        assert service.stop_gracefully()
        service.start()
        with service.client(timeout=30.0) as http:
            assert session(http, sid)["statistics"]["chunks_count"] == 3
            for seq, chunk in enumerate(data):
                assert download(http, sid, seq).content == chunk
            response = http.put(f"{BASE}/{sid}/chunks/3", content=b"more", headers=OCTETS)
            assert response.status_code == 201, response.text
    finally:
        service.stop()


def test_leftovers_of_an_interrupted_write_are_never_chunks(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """What a crash between blob write and metadata commit leaves behind (an orphan blob at
    the next sequence number, temporary files) is invisible, and the recorder overwrites it."""
    service = ServiceProcess(tmp_path / "leftovers", env=stack_env)
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(timeout=30.0) as http:
            sid = recording(http)
            chunks = [screen_like(60 + s, 20_000) for s in range(2)]
            for seq, data in enumerate(chunks):
                upload(http, sid, seq, data)
        orphan = stored_blob(service, sid, 2, exists=False)
        orphan.write(stored_blob(service, sid, 1).read())  # an orphan blob, never committed
        old_tmp = None
        if not on_s3(service):  # an object store has no temporary files
            folder = (service.data_dir / "chunks").glob(f"??/{sid}")
            folder = next(iter(folder))
            fresh_tmp = folder / f".{3:012d}.lsb.{'a' * 32}.tmp"
            old_tmp = folder / f".{2:012d}.lsb.{'b' * 32}.tmp"
            for temporary in (fresh_tmp, old_tmp):
                temporary.write_bytes(b"LSB1 partial write")
            hour_ago = time.time() - 3600
            os.utime(old_tmp, (hour_ago, hour_ago))
        service.kill()
        service.start()
        with service.client(timeout=30.0) as http:
            assert session(http, sid)["statistics"]["chunks_count"] == 2
            for seq in (2, 3):
                assert_error(http.get(f"{BASE}/{sid}/chunks/{seq}"), 404)
                assert_error(download(http, sid, seq), 404)
            assert http.get(f"{BASE}/{sid}/chunks").json()["total"] == 2
            assert http.get(f"{BASE}/{sid}/recording").content == b"".join(chunks)
            new = [screen_like(70, 5_000), screen_like(71, 6_000)]
            upload(http, sid, 2, new[0])
            upload(http, sid, 3, new[1])
            assert download(http, sid, 2).content == new[0]
            assert download(http, sid, 3).content == new[1]
            assert http.get(f"{BASE}/{sid}/recording").content == b"".join(chunks + new)
        assert old_tmp is None or not old_tmp.exists(), "old temporaries are swept at start-up"
        assert temporaries(service, sid) == ([] if old_tmp is None else [fresh_tmp.name])
    finally:
        service.stop()
