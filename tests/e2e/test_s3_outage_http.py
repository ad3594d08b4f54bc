"""An S3 outage at the HTTP level (docs/operations.md, Scale-out, "Failure modes": the S3
service down: uploads and downloads 503 with `Retry-After` after three quick retries (at most
3 s); hung: 503 after `LUCID_S3_TIMEOUT_SECONDS`; `/health` `storage: down`; automatic
recovery), on a real RADOS Gateway.

S3 only, by nature. The module runs one server on the embedded metadata store with its blobs
in a bucket of its own on the session's radosgw (shared with every S3 test; tests run one at
a time); so these tests are not parametrized over the stacks. The gateway is stopped
(connections refused) or hung (SIGSTOP), and always brought back in a `finally`, which waits
until it answers again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import obstore
import pytest

from tests.e2e.conftest import s3_env
from tests.e2e.http import BASE, OCTETS, eventually
from tests.e2e.test_chunks_http import download, noise, recording, session, upload
from tests.servers import ServiceProcess
from tests.servers_s3 import S3Server

pytestmark = pytest.mark.e2e

DOCUMENTED_SECONDS = 3.0  # "after three quick retries (at most 3 s)"
SLACK_SECONDS = 3.0  # the server's own work and a loaded test machine
S3_TIMEOUT_SECONDS = 2.0  # LUCID_S3_TIMEOUT_SECONDS for this module's server
# A hung request times out; an idempotent one may be tried once more within the retry window.
HUNG_SECONDS = 2 * S3_TIMEOUT_SECONDS + 1.0


@pytest.fixture(scope="module")
def gateway(s3_server: S3Server) -> S3Server:
    """The session's RADOS Gateway (tests/conftest.py), under the name these tests give it."""
    return s3_server


@pytest.fixture(scope="module")
def outage_server(
    gateway: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {
        **s3_env(gateway, gateway.make_bucket()),
        "LUCID_S3_TIMEOUT_SECONDS": str(S3_TIMEOUT_SECONDS),
    }
    service = ServiceProcess(tmp_path_factory.mktemp("outage-server"), env=env)
    service.start()
    yield service
    assert service.stop_gracefully()


def keys_of(gateway: S3Server, server: ServiceProcess, sid: str) -> list[str]:
    """The session's objects in the bucket, listed with the gateway's own keys."""
    bucket = gateway.store(server.env["LUCID_S3_BUCKET"])
    return sorted(meta["path"] for meta in obstore.list(bucket).collect() if sid in meta["path"])


def assert_unavailable(
    response: httpx.Response, elapsed: float, within: float = DOCUMENTED_SECONDS
) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status_code"] == 503
    assert elapsed < within + SLACK_SECONDS, f"answered after {elapsed:.1f} s"


def test_a_stopped_gateway_answers_503_and_the_service_recovers(
    gateway: S3Server, outage_server: ServiceProcess
) -> None:
    first, second = noise(1, 50_000), noise(2, 50_000)
    with outage_server.client() as http:
        sid = recording(http, name="through an outage")
        upload(http, sid, 0, first)
        assert len(keys_of(gateway, outage_server, sid)) == 1

        gateway.gateway.stop()
        try:
            started = time.monotonic()
            refused = http.put(f"{BASE}/{sid}/chunks/1", content=second, headers=OCTETS)
            assert_unavailable(refused, time.monotonic() - started)

            started = time.monotonic()
            unreadable = download(http, sid, 0)
            assert_unavailable(unreadable, time.monotonic() - started)

            health = http.get("/health")
            assert health.status_code == 503, health.text
            assert health.json()["checks"]["storage"] == "down"
            assert health.json()["status"] == "unhealthy"
        finally:
            gateway.restart_gateway()

        # Back by itself: nothing of the refused upload was kept, and the same request works.
        assert session(http, sid)["statistics"]["chunks_count"] == 1
        assert len(keys_of(gateway, outage_server, sid)) == 1
        assert upload(http, sid, 1, second)["size_bytes"] == len(second)  # 201, not a retry
        assert download(http, sid, 0).content == first
        assert download(http, sid, 1).content == second
        health = http.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["storage"] == "ok"


def test_a_hung_gateway_answers_503_within_the_s3_timeout(
    gateway: S3Server, outage_server: ServiceProcess
) -> None:
    """A gateway that accepts connections and never answers (SIGSTOP) holds a request for
    the configured S3 timeout, not for obstore's default or forever."""
    budget = HUNG_SECONDS + SLACK_SECONDS
    with outage_server.client() as http:
        sid = recording(http, name="through a hang")
        upload(http, sid, 0, noise(3, 10_000))
    gateway.gateway.pause()
    try:
        with outage_server.client(timeout=budget) as http:
            started = time.monotonic()
            hung = http.put(f"{BASE}/{sid}/chunks/1", content=noise(4, 10_000), headers=OCTETS)
            assert_unavailable(hung, time.monotonic() - started, within=HUNG_SECONDS)
            started = time.monotonic()
            unreadable = download(http, sid, 0)
            assert_unavailable(unreadable, time.monotonic() - started, within=HUNG_SECONDS)
    finally:
        gateway.gateway.resume()
        gateway.wait_until_answering()
        with outage_server.client() as http:
            eventually(
                lambda: http.get("/health").status_code == 200, "the service recovers", 60, 0.2
            )
