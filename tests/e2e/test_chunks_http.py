"""The Chunks part of the HTTP contract, over a real server."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import blake3
import httpx
import pytest

from lucid_sessions.domain.merkle import root_from_leaf_hashes
from tests.e2e.http import BASE, OCTET_STREAM, OCTETS, eventually
from tests.e2e.test_sessions_http import assert_error, create
from tests.servers import ServiceProcess
from tests.stored_blobs import blob_names, on_s3

pytestmark = pytest.mark.e2e

CIPHERS = {"aes-256-gcm", "chacha20-poly1305"}
CAP = 65536


# -- helpers (imported by the integrity and tampering tests) ------------------------------------


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def leaf_hex(data: bytes) -> str:
    """RFC 9162 leaf hash with BLAKE3: H(0x00 || BLAKE3(chunk))."""
    return blake3.blake3(b"\x00" + blake3.blake3(data).digest()).hexdigest()


def screen_like(seed: int, size: int) -> bytes:
    """Compressible, varied bytes (runs of one value, like flat screen areas)."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += bytes([rng.randrange(256)]) * rng.randrange(8, 700)
    return bytes(out[:size])


def noise(seed: int, size: int) -> bytes:
    """Incompressible bytes."""
    return random.Random(seed).randbytes(size)


def recording(client: httpx.Client, **overrides: Any) -> str:
    sid = str(create(client, **overrides)["session_id"])
    response = client.post(f"{BASE}/{sid}/start")
    assert response.status_code == 200, response.text
    return sid


def put_chunk(
    client: httpx.Client,
    sid: str,
    seq: int | str,
    data: bytes,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    sent = {**OCTETS, **(headers or {})}
    return client.put(f"{BASE}/{sid}/chunks/{seq}", content=data, headers=sent)


def upload(
    client: httpx.Client,
    sid: str,
    seq: int,
    data: bytes,
    headers: Mapping[str, str] | None = None,
    expect: int = 201,
) -> dict[str, Any]:
    response = put_chunk(client, sid, seq, data, headers)
    assert response.status_code == expect, response.text
    return dict(response.json())


def session(client: httpx.Client, sid: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/{sid}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def download(client: httpx.Client, sid: str, seq: int, **headers: str) -> httpx.Response:
    return client.get(f"{BASE}/{sid}/chunks/{seq}/download", headers=headers)


def assert_no_path(response: httpx.Response, *roots: Path) -> None:
    text = response.text
    assert ".lsb" not in text
    assert "/tmp" not in text
    for root in roots:
        assert str(root) not in text


def counters(body: Mapping[str, Any]) -> dict[str, Any]:
    """The stored-data counters of a SessionResponse (not the wall-clock durations)."""
    stats = body["statistics"]
    keys = ("chunks_count", "size_bytes", "stored_bytes", "frame_count", "compression_ratio")
    return {key: stats[key] for key in keys}


def stored_objects(server: ServiceProcess, sid: str) -> list[str]:
    """Everything stored for the session's blobs where `server` keeps them: every object under
    `<sid>/` in the bucket on S3, else every file (temporaries too) in its chunk folder."""
    if on_s3(server):
        return blob_names(server, sid)  # the listing of the bucket under `<sid>/`, unfiltered
    return sorted(path.name for path in (server.data_dir / "chunks").glob(f"*/{sid}/*"))


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def wait_status(
    client: httpx.Client, sid: str, wanted: set[str], timeout: float = 20.0
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(session(client, sid))
        return seen["status"] in wanted

    try:
        eventually(reached, f"the session reaches {sorted(wanted)}", timeout, every=0.05)
    except AssertionError as failed:
        raise AssertionError(f"{failed}; last seen: {seen}") from None
    return seen


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped_server(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        tmp_path_factory.mktemp("capped"), env={**stack_env, "LUCID_MAX_CHUNK_BYTES": str(CAP)}
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture
def capped(capped_server: ServiceProcess) -> Iterator[httpx.Client]:
    with capped_server.client(timeout=30.0) as http:
        yield http


# -- upload -----------------------------------------------------------------------------------


def test_upload_returns_chunk_response_and_moves_counters(
    client: httpx.Client, data_dir: Path
) -> None:
    sid = recording(client)
    chunks = [screen_like(i, 40_000 + 1_000 * i) for i in range(3)]
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    responses = []
    for seq, data in enumerate(chunks):
        response = put_chunk(
            client,
            sid,
            seq,
            data,
            {
                "X-Chunk-Frame-Count": str(10 + seq),
                "X-Chunk-Duration-Seconds": "2.5",
                "X-Chunk-Timestamp": stamp(when + timedelta(seconds=seq)),
            },
        )
        assert response.status_code == 201, response.text
        assert_no_path(response, data_dir)
        body = response.json()
        responses.append(body)
        assert body["chunk_id"] == str(seq)
        assert body["session_id"] == sid
        assert body["sequence_number"] == seq
        assert body["status"] == "stored"
        assert body["size_bytes"] == len(data)
        assert 0 < body["stored_size_bytes"] < len(data)
        assert body["frame_count"] == 10 + seq
        assert body["duration_seconds"] == 2.5
        assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")) == when + timedelta(
            seconds=seq
        )
        assert body["blake3"] == b3(data)
        assert body["merkle_hash"] == leaf_hex(data)
        info = body["processing_info"]
        assert info["compression"] == "zstd"
        assert info["compression_ratio"] > 1
        assert info["encryption_enabled"] is True
        assert info["cipher"] in CIPHERS
        assert not {"path", "blob_path", "file", "storage_path"} & set(body)
    after = session(client, sid)
    stats = after["statistics"]
    assert stats["chunks_count"] == 3
    assert stats["size_bytes"] == sum(map(len, chunks))
    assert stats["stored_bytes"] == sum(r["stored_size_bytes"] for r in responses)
    assert stats["frame_count"] == 10 + 11 + 12
    assert stats["compression_ratio"] > 1
    root = root_from_leaf_hashes([bytes.fromhex(leaf_hex(c)) for c in chunks])
    assert after["merkle_root"] == root.hex()
    statistics = client.get(f"{BASE}/{sid}/statistics")
    assert statistics.status_code == 200, statistics.text
    figures = statistics.json()
    assert figures["recording_stats"]["chunks_count"] == 3
    assert figures["recording_stats"]["frame_count"] == 33
    assert figures["storage_stats"]["size_bytes"] == sum(map(len, chunks))
    assert figures["performance_stats"]["average_chunk_bytes"] == pytest.approx(
        sum(map(len, chunks)) / 3
    )
    for path in ("/chunks", "/chunks/1", "/manifest", "/pipeline", "/statistics"):
        assert_no_path(client.get(f"{BASE}/{sid}{path}"), data_dir)


def test_replay_identical_is_200_and_different_bytes_409(client: httpx.Client) -> None:
    sid = recording(client)
    data = screen_like(7, 30_000)
    first = upload(client, sid, 0, data)
    upload(client, sid, 1, screen_like(8, 1000))
    before = session(client, sid)
    replay = upload(client, sid, 0, data, expect=200)
    assert replay == first
    conflict = assert_error(put_chunk(client, sid, 0, data[:-1] + b"\x01"), 409)
    assert "0" in conflict["detail"]
    assert_error(put_chunk(client, sid, 1, screen_like(9, 1000)), 409)
    after = session(client, sid)
    assert counters(after) == counters(before)
    assert after["merkle_root"] == before["merkle_root"]
    assert download(client, sid, 0).content == data


def test_gap_is_409(client: httpx.Client) -> None:
    sid = recording(client)
    upload(client, sid, 0, b"zero")
    assert_error(put_chunk(client, sid, 2, b"two"), 409, "expected chunk 1")
    assert session(client, sid)["statistics"]["chunks_count"] == 1
    upload(client, sid, 1, b"one")


def test_upload_outside_recording_is_409_naming_the_status(client: httpx.Client) -> None:
    sid = str(create(client)["session_id"])
    assert_error(put_chunk(client, sid, 0, b"x"), 409, "created")
    client.post(f"{BASE}/{sid}/start")
    upload(client, sid, 0, b"x")
    client.post(f"{BASE}/{sid}/pause")
    assert_error(put_chunk(client, sid, 1, b"y"), 409, "paused")
    # Hold finalization so the session stays `stopped` long enough to be seen.
    assert client.post(f"{BASE}/{sid}/pipeline/pause").status_code == 200
    assert client.post(f"{BASE}/{sid}/stop").json()["status"] == "stopped"
    assert_error(put_chunk(client, sid, 1, b"y"), 409, "stopped")
    assert client.post(f"{BASE}/{sid}/pipeline/resume").status_code == 200
    wait_status(client, sid, {"completed"})
    assert_error(put_chunk(client, sid, 1, b"y"), 409, "completed")
    assert session(client, sid)["statistics"]["chunks_count"] == 1


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
def test_wrong_content_type_is_415(client: httpx.Client, content_type: str | None) -> None:
    sid = recording(client)
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.put(f"{BASE}/{sid}/chunks/0", content=b"data", headers=headers)
    assert_error(response, 415, OCTET_STREAM)
    assert session(client, sid)["statistics"]["chunks_count"] == 0


def test_body_over_the_cap_is_413_and_nothing_is_stored(
    capped: httpx.Client, capped_server: ServiceProcess
) -> None:
    sid = recording(capped)
    too_big = screen_like(1, CAP + 1)
    assert_error(put_chunk(capped, sid, 0, too_big), 413, str(CAP))

    def pieces() -> Iterator[bytes]:  # no Content-Length: the cap holds while streaming
        for _ in range(5):
            yield b"\x07" * (CAP // 4)

    streamed = capped.put(f"{BASE}/{sid}/chunks/0", content=pieces(), headers=OCTETS)
    assert_error(streamed, 413)
    assert session(capped, sid)["statistics"]["chunks_count"] == 0
    assert_error(capped.get(f"{BASE}/{sid}/chunks/0"), 404)
    assert stored_objects(capped_server, sid) == [], "no blob, no temporary"
    exact = screen_like(2, CAP)
    body = upload(capped, sid, 0, exact)
    assert body["size_bytes"] == CAP
    # The same listing sees the blob that was stored: it looks where blobs really are.
    assert stored_objects(capped_server, sid) == ["000000000000.lsb"]
    assert download(capped, sid, 0).content == exact
    assert session(capped, sid)["statistics"]["chunks_count"] == 1


def test_content_blake3_header(client: httpx.Client) -> None:
    sid = recording(client)
    data = screen_like(3, 5000)
    wrong = b3(data + b"!")
    refused = assert_error(put_chunk(client, sid, 0, data, {"X-Content-BLAKE3": wrong}), 400)
    assert "x-content-blake3" in refused["detail"].lower()
    assert_error(put_chunk(client, sid, 0, data, {"X-Content-BLAKE3": "not-hex"}), 400)
    assert session(client, sid)["statistics"]["chunks_count"] == 0
    assert_error(client.get(f"{BASE}/{sid}/chunks/0"), 404)
    body = upload(client, sid, 0, data, {"X-Content-BLAKE3": b3(data)})
    assert body["blake3"] == b3(data)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Chunk-Frame-Count", "abc"),
        ("X-Chunk-Frame-Count", "-1"),
        ("X-Chunk-Frame-Count", "1.5"),
        ("X-Chunk-Duration-Seconds", "abc"),
        ("X-Chunk-Duration-Seconds", "-2"),
        ("X-Chunk-Duration-Seconds", "nan"),
        ("X-Chunk-Duration-Seconds", "inf"),
        ("X-Chunk-Timestamp", "yesterday"),
        ("X-Chunk-Timestamp", "2024-13-01T00:00:00Z"),
        ("X-Chunk-Timestamp", "2024-01-01T00:00:00"),
    ],
)
def test_bad_chunk_headers_are_400_naming_the_header(
    client: httpx.Client, header: str, value: str
) -> None:
    sid = recording(client)
    response = put_chunk(client, sid, 0, b"data", {header: value})
    body = assert_error(response, 400)
    assert header.lower() in response.text.lower(), body
    assert session(client, sid)["statistics"]["chunks_count"] == 0


@pytest.mark.parametrize("seq", ["abc", "-1", "1.0", "0x1"])
def test_bad_sequence_number_is_400(client: httpx.Client, seq: str) -> None:
    sid = recording(client)
    assert_error(put_chunk(client, sid, seq, b"data"), 400, "sequence_number")


def test_unknown_session_is_404(client: httpx.Client) -> None:
    missing = "sess-00000000000000000000000000"
    assert_error(put_chunk(client, missing, 0, b"data"), 404, missing)
    assert_error(client.get(f"{BASE}/{missing}/chunks"), 404)
    assert_error(client.get(f"{BASE}/{missing}/chunks/0"), 404)
    assert_error(download(client, missing, 0), 404)
    assert_error(client.get(f"{BASE}/{missing}/recording"), 404)


@pytest.mark.parametrize("bad_id", ["bad.id", "bad!id", "a" * 65, "%2E%2E", "x%00y"])
def test_invalid_session_ids_are_400_before_any_lookup(client: httpx.Client, bad_id: str) -> None:
    for path in ("chunks", "chunks/0", "chunks/0/download", "recording", "chunks/0/proof"):
        assert_error(client.get(f"{BASE}/{bad_id}/{path}"), 400)
    assert_error(put_chunk(client, bad_id, 0, b"x"), 400)


def test_pipeline_pause_holds_uploads_with_503(client: httpx.Client) -> None:
    sid = recording(client)
    upload(client, sid, 0, b"before")
    paused = client.post(f"{BASE}/{sid}/pipeline/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["pipeline_status"] == "paused"
    response = put_chunk(client, sid, 1, b"during")
    assert_error(response, 503, "paused")
    assert int(response.headers["Retry-After"]) > 0
    assert session(client, sid)["statistics"]["chunks_count"] == 1
    resumed = client.post(f"{BASE}/{sid}/pipeline/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["pipeline_status"] != "paused"
    upload(client, sid, 1, b"during")
    assert session(client, sid)["statistics"]["chunks_count"] == 2


# -- list and details -------------------------------------------------------------------------


def test_list_details_and_missing_chunks(client: httpx.Client) -> None:
    sid = recording(client)
    t0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    uploaded = [
        upload(
            client,
            sid,
            seq,
            screen_like(100 + seq, 2000),
            {"X-Chunk-Timestamp": stamp(t0 + timedelta(minutes=seq))},
        )
        for seq in range(5)
    ]
    whole = client.get(f"{BASE}/{sid}/chunks")
    assert whole.status_code == 200, whole.text
    page = whole.json()
    assert [c["sequence_number"] for c in page["chunks"]] == [0, 1, 2, 3, 4]
    assert page["chunks"] == uploaded
    assert (page["total"], page["has_next"], page["has_previous"]) == (5, False, False)

    first = client.get(f"{BASE}/{sid}/chunks", params={"limit": 2}).json()
    assert [c["chunk_id"] for c in first["chunks"]] == ["0", "1"]
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    assert (first["has_next"], first["has_previous"]) == (True, False)
    middle = client.get(f"{BASE}/{sid}/chunks", params={"limit": 2, "offset": 2}).json()
    assert [c["chunk_id"] for c in middle["chunks"]] == ["2", "3"]
    assert (middle["has_next"], middle["has_previous"]) == (True, True)
    last = client.get(f"{BASE}/{sid}/chunks", params={"limit": 2, "offset": 4}).json()
    assert [c["chunk_id"] for c in last["chunks"]] == ["4"]
    assert (last["has_next"], last["has_previous"]) == (False, True)
    beyond = client.get(f"{BASE}/{sid}/chunks", params={"offset": 10}).json()
    assert beyond["chunks"] == []
    assert beyond["total"] == 5

    window = client.get(
        f"{BASE}/{sid}/chunks",
        params={
            "start_time": stamp(t0 + timedelta(seconds=30)),
            "end_time": stamp(t0 + timedelta(minutes=3, seconds=30)),
        },
    ).json()
    assert [c["sequence_number"] for c in window["chunks"]] == [1, 2, 3]
    assert window["total"] == 3
    since = client.get(
        f"{BASE}/{sid}/chunks", params={"start_time": stamp(t0 + timedelta(minutes=3))}
    ).json()
    assert [c["sequence_number"] for c in since["chunks"]] == [3, 4]

    for bad in ({"limit": 0}, {"limit": 100_000}, {"offset": -1}, {"start_time": "soon"}):
        assert_error(client.get(f"{BASE}/{sid}/chunks", params=bad), 400)

    detail = client.get(f"{BASE}/{sid}/chunks/2")
    assert detail.status_code == 200, detail.text
    assert detail.json() == uploaded[2]
    for missing in (5, 6, 99, 10**12 - 1):
        assert_error(client.get(f"{BASE}/{sid}/chunks/{missing}"), 404, str(missing))
        assert_error(download(client, sid, missing), 404)
    # Sequence numbers have at most 12 digits: a longer id is malformed, not missing.
    assert_error(client.get(f"{BASE}/{sid}/chunks/{10**12}"), 400, "chunk_id")
    assert_error(client.get(f"{BASE}/{sid}/chunks/abc"), 400)


# -- download ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(server: ServiceProcess) -> dict[str, Any]:
    """One session with three chunks of different sizes."""
    with server.client(timeout=30.0) as http:
        sid = recording(http)
        chunks = [screen_like(200, 300), noise(201, 1000), screen_like(202, 70_000)]
        records = [upload(http, sid, seq, data) for seq, data in enumerate(chunks)]
    return {"sid": sid, "chunks": chunks, "records": records}


def test_download_is_byte_exact_with_headers(client: httpx.Client, stored: dict[str, Any]) -> None:
    sid = stored["sid"]
    for seq, data in enumerate(stored["chunks"]):
        response = download(client, sid, seq)
        assert response.status_code == 200, response.text
        assert response.content == data
        headers = response.headers
        assert headers["content-type"].split(";")[0] == OCTET_STREAM
        assert int(headers["content-length"]) == len(data)
        assert headers["etag"] == f'"{b3(data)}"'
        assert headers["content-disposition"].startswith("attachment")
        assert headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [("bytes=10-19", 10, 20), ("bytes=-5", 995, 1000), ("bytes=100-", 100, 1000)],
)
def test_download_range(
    client: httpx.Client, stored: dict[str, Any], spec: str, start: int, end: int
) -> None:
    data = stored["chunks"][1]
    assert len(data) == 1000
    response = download(client, stored["sid"], 1, Range=spec)
    assert response.status_code == 206, response.text
    assert response.content == data[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/1000"
    assert int(response.headers["content-length"]) == end - start


def test_download_unsatisfiable_range_and_if_none_match(
    client: httpx.Client, stored: dict[str, Any]
) -> None:
    sid, data = stored["sid"], stored["chunks"][1]
    refused = download(client, sid, 1, Range="bytes=999999-")
    assert refused.status_code == 416, refused.text
    assert refused.headers["content-range"] == f"bytes */{len(data)}"
    etag = f'"{b3(data)}"'
    cached = download(client, sid, 1, **{"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    other = download(client, sid, 1, **{"If-None-Match": '"0000"'})
    assert other.status_code == 200
    assert other.content == data


def test_recording_is_the_concatenation(client: httpx.Client, stored: dict[str, Any]) -> None:
    sid, chunks = stored["sid"], stored["chunks"]
    whole = b"".join(chunks)
    response = client.get(f"{BASE}/{sid}/recording")
    assert response.status_code == 200, response.text
    assert response.content == whole
    assert int(response.headers["content-length"]) == len(whole)
    assert response.headers["content-type"].split(";")[0] == OCTET_STREAM
    # Ranges that cross chunk boundaries (300 | 1000 | 70000).
    for start, end in [(290, 310), (250, 1400), (0, len(whole)), (1299, 1301), (5, 6)]:
        ranged = client.get(
            f"{BASE}/{sid}/recording", headers={"Range": f"bytes={start}-{end - 1}"}
        )
        assert ranged.status_code == 206, ranged.text
        assert ranged.content == whole[start:end], (start, end)
        assert ranged.headers["content-range"] == f"bytes {start}-{end - 1}/{len(whole)}"
    tail = client.get(f"{BASE}/{sid}/recording", headers={"Range": "bytes=-70010"})
    assert tail.status_code == 206
    assert tail.content == whole[-70010:]
    refused = client.get(f"{BASE}/{sid}/recording", headers={"Range": f"bytes={len(whole)}-"})
    assert refused.status_code == 416
    assert refused.headers["content-range"] == f"bytes */{len(whole)}"


def test_recording_of_an_empty_session(client: httpx.Client) -> None:
    sid = recording(client)
    response = client.get(f"{BASE}/{sid}/recording")
    assert response.status_code == 200, response.text
    assert response.content == b""


# -- compression and encryption modes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("recording_config", "storage_config", "compression", "encrypted"),
    [
        ({"compression": "zstd"}, {}, "zstd", True),
        ({"compression": "zstd", "compression_level": 19}, {}, "zstd", True),
        ({"compression": "lz4"}, {}, "lz4", True),
        ({"compression": "none"}, {}, "none", True),
        ({"compression": "zstd"}, {"encryption_enabled": False}, "zstd", False),
        ({"compression": "lz4"}, {"encryption_enabled": False}, "lz4", False),
        ({"compression": "none"}, {"encryption_enabled": False}, "none", False),
        ({"compression": "zstd"}, {"compression_enabled": False}, "none", True),
    ],
)
def test_modes_round_trip(
    client: httpx.Client,
    recording_config: dict[str, Any],
    storage_config: dict[str, Any],
    compression: str,
    encrypted: bool,
) -> None:
    sid = recording(client, recording_config=recording_config, storage_config=storage_config)
    compressible = screen_like(300, 200_000)
    random_data = noise(301, 50_000)
    empty = b""
    first = upload(client, sid, 0, compressible)
    second = upload(client, sid, 1, random_data)
    third = upload(client, sid, 2, empty)
    for body in (first, second, third):
        info = body["processing_info"]
        assert info["encryption_enabled"] is encrypted
        if encrypted:
            assert info["cipher"] in CIPHERS
        else:
            assert info["cipher"] is None
    assert first["processing_info"]["compression"] == compression
    if compression == "none":
        assert first["processing_info"]["compression_ratio"] == 1.0
    else:
        assert first["processing_info"]["compression_ratio"] > 2
        assert first["stored_size_bytes"] < len(compressible) // 2
    assert second["processing_info"]["compression"] == "none"
    assert second["processing_info"]["compression_ratio"] == 1.0
    overhead = second["stored_size_bytes"] - len(random_data)
    assert 0 < overhead <= 121 + 16
    assert third["size_bytes"] == 0
    for seq, data in enumerate([compressible, random_data, empty]):
        response = download(client, sid, seq)
        assert response.status_code == 200, response.text
        assert response.content == data
    whole = client.get(f"{BASE}/{sid}/recording")
    assert whole.content == compressible + random_data


# -- concurrency ------------------------------------------------------------------------------


def test_two_sessions_upload_concurrently(client: httpx.Client, server: ServiceProcess) -> None:
    sids = [recording(client), recording(client)]
    data = {
        sid: [screen_like(1000 * k + i, 512 * 1024 + i) for i in range(6)]
        for k, sid in enumerate(sids)
    }
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(sid: str) -> None:
        try:
            with server.client(timeout=60.0) as http:
                barrier.wait()
                for seq, chunk in enumerate(data[sid]):
                    upload(http, sid, seq, chunk)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in sids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    for sid in sids:
        assert session(client, sid)["statistics"]["chunks_count"] == 6
        for seq, chunk in enumerate(data[sid]):
            assert download(client, sid, seq).content == chunk
        assert client.get(f"{BASE}/{sid}/recording").content == b"".join(data[sid])


def test_health_answers_during_a_large_upload(client: httpx.Client, server: ServiceProcess) -> None:
    sid = recording(client)
    big = screen_like(4242, 12 * 1024 * 1024)
    piece = 256 * 1024
    result: dict[str, Any] = {}

    def slow_body() -> Iterator[bytes]:
        for offset in range(0, len(big), piece):
            time.sleep(0.01)
            yield big[offset : offset + piece]

    def run() -> None:
        try:
            with server.client(timeout=60.0) as http:
                result["response"] = http.put(
                    f"{BASE}/{sid}/chunks/0",
                    content=slow_body(),
                    headers={**OCTETS, "X-Content-BLAKE3": b3(big)},
                )
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    answered, slowest = 0, 0.0
    while thread.is_alive():
        asked = time.perf_counter()
        health = client.get("/health", timeout=5.0)
        slowest = max(slowest, time.perf_counter() - asked)
        assert health.status_code == 200, health.text
        if thread.is_alive():
            answered += 1
        time.sleep(0.02)
    thread.join()
    assert "error" not in result, result
    response = result["response"]
    assert response.status_code == 201, response.text
    assert answered >= 3
    assert slowest < 2.0
    assert response.json()["blake3"] == b3(big)
    assert download(client, sid, 0).content == big


@pytest.mark.parametrize("same_bytes", [True, False])
def test_racing_uploads_of_one_sequence_number(
    client: httpx.Client, server: ServiceProcess, same_bytes: bool
) -> None:
    sid = recording(client)
    bodies = [screen_like(0 if same_bytes else k, 300_000) for k in range(8)]
    barrier = threading.Barrier(len(bodies))

    def send(body: bytes) -> int:
        with server.client(timeout=60.0) as http:
            barrier.wait()
            return put_chunk(http, sid, 0, body).status_code

    codes: list[int] = []
    threads = [threading.Thread(target=lambda b=body: codes.append(send(b))) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(codes) == sorted([201] + [200 if same_bytes else 409] * (len(bodies) - 1))
    assert session(client, sid)["statistics"]["chunks_count"] == 1
    stored = client.get(f"{BASE}/{sid}/chunks/0").json()["blake3"]
    assert stored in {b3(body) for body in bodies}
    assert b3(download(client, sid, 0).content) == stored


# -- regressions: bugs these tests found in the service (fixed) -------------------------------


@pytest.mark.parametrize("chunk_id", ["\u00b2", "\u0661", "\uff11"])
def test_non_ascii_digits_are_not_sequence_numbers(client: httpx.Client, chunk_id: str) -> None:
    sid = recording(client)
    upload(client, sid, 0, b"zero")
    upload(client, sid, 1, b"one")
    assert_error(client.get(f"{BASE}/{sid}/chunks/{chunk_id}"), 400, "chunk_id")
    assert_error(put_chunk(client, sid, chunk_id, b"x"), 400, "sequence_number")


@pytest.mark.parametrize("name", ["start_time", "end_time"])
def test_time_filter_without_offset_is_not_a_server_error(client: httpx.Client, name: str) -> None:
    sid = recording(client)
    upload(client, sid, 0, b"zero")
    response = client.get(f"{BASE}/{sid}/chunks", params={name: "2024-01-01T00:00:00"})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert_error(response, 400, name)


@pytest.fixture
def fresh_server(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path / "fresh", env=stack_env)
    service.data_dir.mkdir()
    service.start()
    yield service
    service.stop()


EXTREME_TIMESTAMPS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("value", EXTREME_TIMESTAMPS)
def test_unrepresentable_chunk_timestamp_does_not_poison_the_chunk(
    client: httpx.Client, value: str
) -> None:
    sid = recording(client)
    response = put_chunk(client, sid, 0, b"zero", {"X-Chunk-Timestamp": value})
    if response.status_code == 400:
        assert_error(response, 400, "x-chunk-timestamp")
        return
    assert response.status_code == 201, response.text
    for path in ("/chunks/0", "/chunks", "/chunks/0/download", "/recording", "/manifest"):
        read = client.get(f"{BASE}/{sid}{path}")
        assert read.status_code == 200, (path, read.text)
    assert put_chunk(client, sid, 0, b"zero").status_code == 200


def test_one_bad_chunk_cannot_take_the_service_down(fresh_server: ServiceProcess) -> None:
    with fresh_server.client(timeout=30.0) as http:
        sid = recording(http)
        put_chunk(http, sid, 0, b"zero", {"X-Chunk-Timestamp": EXTREME_TIMESTAMPS[0]})
        upload(http, sid, 1 if session(http, sid)["statistics"]["chunks_count"] else 0, b"ok")
        assert http.post(f"{BASE}/{sid}/stop").status_code == 200
        wait_status(http, sid, {"completed", "failed"})
        # The rest of the service still works.
        other = recording(http)
        upload(http, other, 0, b"fine")
        assert http.post(f"{BASE}/{other}/stop").status_code == 200
        assert wait_status(http, other, {"completed", "failed"})["status"] == "completed"
        assert http.get("/health").json()["status"] == "healthy"
