"""`LUCID_MAX_JSON_BYTES` over HTTP (docs/operations.md, Settings; docs/integration.md, "The
rules every answer follows"): with the limit set to 4096 bytes, a JSON body of exactly 4096
bytes is accepted and one of 4097 answers 413 with a JSON error body, whether the body is
announced by `Content-Length` or streamed in chunks without one.

The bodies are a valid session padded with JSON white space to the exact size. The limit is an
HTTP concern, whatever the stores: the server runs on the embedded stack only (not
parametrized over the e2e stacks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.http import BASE, JSON
from tests.e2e.test_sessions_http import assert_error
from tests.servers import ServiceProcess

pytestmark = pytest.mark.e2e

LIMIT = 4096  # well under the default of 256 KiB


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        tmp_path_factory.mktemp("limited"), env={"LUCID_MAX_JSON_BYTES": str(LIMIT)}
    )
    service.start()
    yield service
    assert service.stop_gracefully()


def body_of(size: int, name: str) -> bytes:
    """A valid create-session body of exactly `size` bytes (white space after the object)."""
    document = json.dumps({"name": name, "rdp_config": {"host": "10.0.0.7"}}).encode()
    assert len(document) < size
    return document + b" " * (size - len(document))


def in_pieces(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """The body as an iterator: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_json_body_at_the_limit_is_accepted_and_one_byte_more_is_413(
    limited: ServiceProcess, framing: str
) -> None:
    def post(data: bytes) -> httpx.Response:
        content = data if framing == "content-length" else in_pieces(data)
        return http.post(BASE, content=content, headers=JSON)

    with limited.client() as http:
        at_limit = body_of(LIMIT, f"at the limit, {framing}")
        accepted = post(at_limit)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["name"] == f"at the limit, {framing}"

        over = body_of(LIMIT + 1, f"one byte over, {framing}")
        refused = post(over)
        assert_error(refused, 413)
        listed = http.get(BASE, params={"limit": 100}).json()["sessions"]
        assert f"one byte over, {framing}" not in {s["name"] for s in listed}

    with limited.client() as http:  # the server still answers (a 413 may close a connection)
        assert http.get("/health").status_code == 200
