"""Hostile bytes at the edge, over a real server: every one answers a 4xx (never a 500),
stores nothing, writes no traceback, and none holds a connection or the server's memory.

The corpus is the hardening review's findings and their neighbours; the property tests send
arbitrary bytes in every header the service reads.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import own_database
from tests.e2e.http import BASE, JSON, OCTETS
from tests.servers import ADMIN_TOKEN, ALICE_TOKEN, BOB_TOKEN, ServiceProcess

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0
# Short: every fuzzed Content-Length above the 4 bytes sent waits this long for its 408.
BODY_TIMEOUT = 1.0
MAX_HEADER_BYTES = 32 * 1024  # the default
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def edge(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    limits = {
        "LUCID_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "LUCID_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        # A fuzzed Content-Length larger than the body sent waits for this before its 408 (the
        # default 30 s made one example cost half a minute).
        "LUCID_UPLOAD_IDLE_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    }
    with own_database(stack_env) as env:
        service = ServiceProcess(tmp_path_factory.mktemp("edge"), env={**env, **limits})
        service.start()
        yield service
        service.stop()
    log = service.log_path.read_text()
    assert "Traceback" not in log, "no hostile request writes a traceback"
    statuses = re.findall(r'"status": (\d+)', log)
    assert "500" not in statuses, "no request of the module answered 500"


def raw_exchange(port: int, request: bytes, timeout: float = 30.0) -> tuple[int | None, bytes]:
    """Send `request` as it is; the status and the whole answer (the server closes after
    it: every request here says `Connection: close`, or is refused). None: no answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int | None, bytes]:
    pieces = []
    try:
        while piece := sock.recv(65536):
            pieces.append(piece)
    except (ConnectionResetError, TimeoutError):
        pass
    answer = b"".join(pieces)
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return (int(match.group(1)) if match else None), answer


def request_bytes(
    method: str,
    target: str,
    headers: dict[str, bytes | str] | None = None,
    body: bytes = b"",
    token: str | None = ADMIN_TOKEN,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}".encode())
    given_headers = {name.lower() for name in (headers or {})}
    if body and "content-length" not in given_headers:
        lines.append(f"Content-Length: {len(body)}".encode())
    for name, value in (headers or {}).items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def json_body(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def recording(edge: ServiceProcess) -> str:
    """A recording session of alice's with chunk 0 (b"chunk-zero") and an empty chunk 1."""
    with edge.client(ALICE_TOKEN) as http:
        created = http.post(BASE, json={"name": "edge", "rdp_config": {"host": "10.1.1.1"}})
        sid = str(created.json()["session_id"])
        assert http.post(f"{BASE}/{sid}/start").status_code == 200
        octets = {"content-type": "application/octet-stream"}
        assert http.put(f"{BASE}/{sid}/chunks/0", content=b"chunk-zero", headers=octets).is_success
        assert http.put(f"{BASE}/{sid}/chunks/1", content=b"", headers=octets).is_success
    return sid


def chunks_count(edge: ServiceProcess, sid: str) -> int:
    with edge.client() as http:
        return int(http.get(f"{BASE}/{sid}").json()["statistics"]["chunks_count"])


# -- limits before the app -------------------------------------------------------------


def test_a_64_mib_header_is_refused_without_growing_the_server(edge: ServiceProcess) -> None:
    assert edge.process is not None
    before = rss_bytes(edge.process.pid)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        sent = 0
        try:
            sock.sendall(b"GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\nX-Big: ")
            piece = b"a" * 65536
            while sent < 64 * 1024 * 1024:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server closed the connection: what we want
        status, answer = read_answer(sock)
    assert status in (431, None), answer[:200]
    if status == 431:
        assert b'"status_code":431' in json_body(answer).replace(b" ", b"")
    assert sent < 64 * 1024 * 1024, "the server stopped reading long before the end"
    assert time.monotonic() - started < 10
    grown = rss_bytes(edge.process.pid) - before
    assert grown < 4 * 1024 * 1024, f"the server grew by {grown} bytes"
    with edge.client() as http:
        assert http.get("/health").status_code == 200


def test_a_hundred_thousand_header_lines_are_refused(edge: ServiceProcess) -> None:
    lines = b"".join(b"X-L%d: v\r\n" % n for n in range(100_000))
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"
    status, _ = raw_exchange(edge.port, request)
    assert status in (431, None)


def test_headers_up_to_the_cap_are_served(edge: ServiceProcess) -> None:
    filler = "a" * (MAX_HEADER_BYTES - 200)
    status, answer = raw_exchange(edge.port, request_bytes("GET", "/health", {"X-Pad": filler}))
    assert status == 200, answer[:300]


def test_headers_that_never_finish_are_refused_in_time(edge: ServiceProcess) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        try:
            for _ in range(40):  # a byte every quarter second, for up to ten seconds
                sock.sendall(b"X")
                sock.settimeout(0.25)
                try:
                    answer += sock.recv(4096)
                except TimeoutError:
                    continue
                if answer:
                    break
        except OSError:
            pass
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"status_code":408' in json_body(answer).replace(b" ", b"")
    assert HEADER_TIMEOUT <= elapsed < HEADER_TIMEOUT + 3


def test_a_connection_that_sends_nothing_is_closed_in_time(edge: ServiceProcess) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        status, _ = read_answer(sock)
    assert status == 408
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_a_stalled_json_body_is_refused_in_time(edge: ServiceProcess) -> None:
    started = time.monotonic()
    head = request_bytes(
        "POST", BASE, {"Content-Type": "application/json", "Content-Length": "100"}
    )
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        sock.sendall(head + b"{")  # then nothing more
        status, answer = read_answer(sock)
    assert status == 408, answer[:300]
    assert BODY_TIMEOUT <= time.monotonic() - started < BODY_TIMEOUT + 3


def test_a_body_nobody_reads_does_not_hold_the_connection(edge: ServiceProcess) -> None:
    """A 401 goes out before the body; the connection then closes instead of reading the
    client's trickle for ever."""
    head = request_bytes(
        "POST",
        BASE,
        {"Content-Type": "application/json", "Content-Length": "100000"},
        token=None,
    )
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        sock.sendall(head + b"{")
        status, _ = read_answer(sock)  # returns once the server closes
    assert status == 401
    assert time.monotonic() - started < 5


def test_pipelined_requests_are_all_answered(edge: ServiceProcess, recording: str) -> None:
    """The limits count each request's own head: requests pipelined on one connection, one
    with a body, are all served in order."""
    keep = {"Connection": "keep-alive"}
    first = request_bytes("GET", "/health", keep).replace(b"Connection: close\r\n", b"")
    body = b'{"description": "pipelined"}'
    second = request_bytes("PUT", f"{BASE}/{recording}", {**JSON, **keep}, body, ALICE_TOKEN)
    second = second.replace(b"Connection: close\r\n", b"")
    third = request_bytes("GET", f"{BASE}/{recording}", token=ALICE_TOKEN)
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        sock.sendall(first + second + third)
        _, answer = read_answer(sock)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"200", b"200"], answer[:600]
    assert b'"description":"pipelined"' in answer


def test_malformed_http_is_a_json_400(edge: ServiceProcess) -> None:
    status, answer = raw_exchange(
        edge.port, b"GET /health HTTP/1.1\r\nHost: x\r\nBad\x01: y\r\n\r\n"
    )
    assert status == 400
    assert b'"status_code"' in json_body(answer)


# -- the corpus --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/schema/assets/%00",
        "/schema/assets/LICENSE%00.png",
        "/schema/assets/%2e%2e/%2e%2e/docs.py",
        "/schema/assets/..%2fdocs.py",
        "/schema/assets/swagger-ui.css%0A",
        "/schema/assets/",
    ],
)
def test_docs_asset_paths_are_looked_up_never_opened(edge: ServiceProcess, target: str) -> None:
    status, _ = raw_exchange(edge.port, request_bytes("GET", target, token=None))
    assert status == 404


def test_docs_assets_are_served(edge: ServiceProcess) -> None:
    with edge.client(None) as http:
        css = http.get("/schema/assets/swagger-ui.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert http.get("/schema").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\xff\xfe", "rdp_config": {"host": "h"}}',
        b'{"name": "\xc3\x28", "rdp_config": {"host": "h"}}',
        b'{"name": "\xc0\xaf", "rdp_config": {"host": "h"}}',
        b'{"na\xffme": "x", "rdp_config": {"host": "h"}}',
        b'\xef\xbb\xbf{"name": "x", "rdp_config": {"host": "h"}}',
    ],
)
def test_invalid_utf8_in_json_is_a_400(edge: ServiceProcess, recording: str, body: bytes) -> None:
    before = edge.client().get(BASE).json()["total"]
    for method, target in (("POST", BASE), ("PUT", f"{BASE}/{recording}")):
        status, answer = raw_exchange(edge.port, request_bytes(method, target, JSON, body))
        assert status == 400, answer[:300]
    with edge.client() as http:
        assert http.get(BASE).json()["total"] == before
        assert http.get(f"{BASE}/{recording}").json()["name"] == "edge"


LONG = "9" * 5000


@pytest.mark.parametrize(
    ("range_header", "expected"),
    [
        (f"bytes={LONG}-", 416),
        (f"bytes=0-{LONG}", 206),
        (f"bytes=-{LONG}", 206),
        (f"bytes={LONG}-{LONG}", 416),
        ("bytes=0-3", 206),
        ("bytes=3e0-4", 200),  # not a byte range: ignored
    ],
)
def test_long_numbers_in_range(
    edge: ServiceProcess, recording: str, range_header: str, expected: int
) -> None:
    for method in ("GET", "HEAD"):
        for target in (f"{BASE}/{recording}/chunks/0/download", f"{BASE}/{recording}/recording"):
            request = request_bytes(method, target, {"Range": range_header})
            status, answer = raw_exchange(edge.port, request)
            assert status == expected, (method, target, answer[:300])


def test_a_suffix_range_of_an_empty_chunk_is_the_empty_chunk(
    edge: ServiceProcess, recording: str
) -> None:
    with edge.client(ALICE_TOKEN) as http:
        answer = http.get(f"{BASE}/{recording}/chunks/1/download", headers={"Range": "bytes=-1"})
        assert answer.status_code == 200
        assert answer.content == b""
        unsatisfiable = http.get(
            f"{BASE}/{recording}/chunks/1/download", headers={"Range": "bytes=0-"}
        )
        assert unsatisfiable.status_code == 416


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Length": "0" * 5000 + "3"},
        {"X-Chunk-Frame-Count": b"\xb2"},
        {"X-Chunk-Frame-Count": b"1\xb2"},
        {"X-Chunk-Frame-Count": "1_0"},
        {"X-Chunk-Frame-Count": "9" * 5000},
        {"X-Chunk-Duration-Seconds": "1_0"},
        {"X-Chunk-Duration-Seconds": "1e3"},
        {"X-Chunk-Duration-Seconds": "nan"},
        {"X-Chunk-Timestamp": b"2026-01-01T00:00:00Z\xff"},
        {"X-Content-BLAKE3": b"\xff" * 64},
        {"Content-Type": b"application/octet-stream\xff"},
    ],
)
def test_hostile_upload_headers_store_nothing(
    edge: ServiceProcess, recording: str, headers: dict[str, bytes | str]
) -> None:
    count = chunks_count(edge, recording)
    request = request_bytes(
        "PUT",
        f"{BASE}/{recording}/chunks/{count}",
        {**OCTETS, **headers},
        b"abc",
    )
    status, answer = raw_exchange(edge.port, request)
    assert status is not None
    assert 400 <= status < 500, answer[:300]
    assert chunks_count(edge, recording) == count


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%20", "%00", "+", "%C2%B2"])
def test_chunk_numbers_in_paths_match_whole(
    edge: ServiceProcess, recording: str, suffix: str
) -> None:
    count = chunks_count(edge, recording)
    with edge.client() as http:
        assert http.get(f"{BASE}/{recording}/chunks/0{suffix}").status_code == 400
        assert http.get(f"{BASE}/{recording}/chunks/0{suffix}/proof").status_code == 400
        put = http.put(f"{BASE}/{recording}/chunks/{count}{suffix}", content=b"x", headers=OCTETS)
        assert put.status_code == 400
        assert http.get(f"{BASE}/{recording}%0A").status_code == 400
    assert chunks_count(edge, recording) == count


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "rdp_config": {"host": "db1.corp\n"}},
        {"name": "x", "rdp_config": {"host": "999.999.999.999"}},
        {
            "name": "x",
            "rdp_config": {"host": "h"},
            "recording_config": {"resolution": "1920x1080\n"},
        },
    ],
)
def test_patterns_match_the_whole_value(edge: ServiceProcess, body: dict[str, object]) -> None:
    with edge.client() as http:
        before = http.get(BASE).json()["total"]
        assert http.post(BASE, json=body).status_code == 400
        assert http.get(BASE).json()["total"] == before


@pytest.mark.parametrize(
    "query",
    [
        "tree_size=3e0",
        "tree_size=1.0",
        "tree_size=%C2%B2",
        f"tree_size={LONG}",
        "tree_size=1_0",
    ],
)
def test_lax_numbers_in_a_proof_query_are_refused(
    edge: ServiceProcess, recording: str, query: str
) -> None:
    with edge.client() as http:
        answer = http.get(f"{BASE}/{recording}/chunks/0/proof?{query}")
        assert answer.status_code == 400, answer.text
        assert answer.json()["extra"][0]["key"] == "tree_size"


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}?limit=5.0",
        f"{BASE}?limit=3e0",
        f"{BASE}?offset=1_0",
        f"{BASE}?limit={LONG}",
        f"{BASE}/log/entries?start=1.0",
        f"{BASE}/log/proof?index=0&tree_size=3e0",
        f"{BASE}/log/consistency?from=1.0",
    ],
)
def test_lax_numbers_in_queries_are_refused(edge: ServiceProcess, path: str) -> None:
    with edge.client() as http:
        answer = http.get(path)
        assert answer.status_code == 400, answer.text


def test_a_user_may_not_give_its_session_away(edge: ServiceProcess, recording: str) -> None:
    with edge.client(ALICE_TOKEN) as alice:
        answer = alice.put(f"{BASE}/{recording}", json={"metadata": {"owner": "bob"}})
        assert answer.status_code == 403, answer.text
        assert alice.get(f"{BASE}/{recording}").json()["metadata"]["owner"] == "alice"


def test_options_is_public_and_tells_nothing_about_sessions(
    edge: ServiceProcess, recording: str
) -> None:
    with edge.client(None) as anonymous:
        mine = anonymous.options(f"{BASE}/{recording}")
        missing = anonymous.options(f"{BASE}/sess-that-does-not-exist")
    assert mine.status_code == missing.status_code == 204
    assert mine.headers["allow"] == missing.headers["allow"]
    assert mine.content == missing.content == b""


def test_statistics_show_the_disk_to_admins_only(edge: ServiceProcess) -> None:
    with edge.client(BOB_TOKEN) as bob, edge.client(ADMIN_TOKEN) as admin:
        assert bob.get(f"{BASE}/statistics").json()["storage"] is None
        storage = admin.get(f"{BASE}/statistics").json()["storage"]
    assert storage["free_bytes"] > 0


def test_the_embedded_database_is_private(edge: ServiceProcess, stack_env: dict[str, str]) -> None:
    if "MONGODB_URL" in stack_env:
        pytest.skip("the embedded database exists on the embedded stack only")
    files = list((edge.data_dir / "sessions").glob("sessions.sqlite3*"))
    assert files
    for path in files:
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o600), path


# -- arbitrary bytes in every header the service reads ------------------------------------

header_values = st.binary(min_size=0, max_size=64).filter(
    lambda v: b"\r" not in v and b"\n" not in v
)
UPLOAD_HEADERS = [
    "Content-Type",
    "Content-Length",
    "X-Content-BLAKE3",
    "X-Chunk-Timestamp",
    "X-Chunk-Duration-Seconds",
    "X-Chunk-Frame-Count",
    "X-Request-ID",
    "Authorization",
]
DOWNLOAD_HEADERS = ["Range", "If-Range", "If-None-Match", "X-Request-ID"]


@pytest.mark.parametrize("name", UPLOAD_HEADERS)
def test_any_upload_header_answers_without_a_500(
    edge: ServiceProcess, recording: str, name: str
) -> None:
    @FUZZ
    @given(value=header_values)
    def upload(value: bytes) -> None:
        count = chunks_count(edge, recording)
        headers: dict[str, bytes | str] = {**OCTETS, "Content-Length": "4", name: value}
        token = None if name == "Authorization" else ALICE_TOKEN
        target = f"{BASE}/{recording}/chunks/{count}"
        status, answer = raw_exchange(
            edge.port, request_bytes("PUT", target, headers, b"data", token)
        )
        assert status is not None, answer[:300]
        assert status < 500, answer[:300]
        if status >= 400:
            assert chunks_count(edge, recording) == count

    upload()


@pytest.mark.parametrize("name", DOWNLOAD_HEADERS)
def test_any_download_header_answers_without_a_500(
    edge: ServiceProcess, recording: str, name: str
) -> None:
    @FUZZ
    @given(value=header_values)
    def download(value: bytes) -> None:
        for target in (f"{BASE}/{recording}/chunks/0/download", f"{BASE}/{recording}/recording"):
            request = request_bytes("GET", target, {name: value}, token=ALICE_TOKEN)
            status, answer = raw_exchange(edge.port, request)
            assert status in (200, 206, 304, 400, 416), answer[:300]

    download()


@FUZZ
@given(body=st.binary(max_size=200))
def test_any_json_body_answers_without_a_500(edge: ServiceProcess, body: bytes) -> None:
    status, answer = raw_exchange(edge.port, request_bytes("POST", BASE, JSON, body))
    assert status is not None, answer[:300]
    assert status < 500, answer[:300]


@FUZZ
@given(segment=st.text(max_size=40))
def test_any_path_segment_answers_without_a_500(edge: ServiceProcess, segment: str) -> None:
    quoted = "/" + urllib.parse.quote(segment, safe="")
    for prefix in ("/schema/assets", BASE, f"{BASE}/x/chunks"):
        request = request_bytes("GET", prefix + quoted, token=ADMIN_TOKEN)
        status, answer = raw_exchange(edge.port, request)
        assert status is not None, (prefix, segment, answer[:300])
        assert status < 500, (prefix, segment, answer[:300])
