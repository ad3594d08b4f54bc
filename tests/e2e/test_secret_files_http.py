"""Secrets read from files (docs/operations.md, "Secrets from files"): `REDIS_URL_FILE` and
`BLOCKCHAIN_ENGINE_URL_FILE` name private files (mode 0600, the value surrounded by white
space) whose content the service uses as `REDIS_URL` and `BLOCKCHAIN_ENGINE_URL`, neither of
which is set. Used means: `/health` says `cache: ok` (`disabled` without a Redis URL), session
reads hit the cache (the hit counter grows, and the keys are in that redis-server), and each
new signed tree head is posted to the engine at the URL of the file.

A redis-server and a stand-in engine (a real HTTP server, `Engine` of test_anchoring_http) of
the test's own, with the embedded metadata store: the settings' source is what is tested, not
the stacks (not parametrized over them).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.http import BASE, eventually, metric_value
from tests.e2e.test_anchoring_http import Engine
from tests.e2e.test_session_log_http import LOG, _completed
from tests.servers import ServiceProcess, free_port
from tests.servers_db import REDIS_DATABASES, RedisServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_url(session_redis: RedisServer) -> Iterator[str]:
    """A Redis database of the module's own on the session's redis-server, empty at first
    (and emptied afterwards)."""
    url = session_redis.url_for(REDIS_DATABASES["secret-files"])
    with redis.Redis.from_url(url) as database:
        database.flushdb()
        yield url
        database.flushdb()


@pytest.fixture
def engine() -> Iterator[Engine]:
    started = Engine(free_port())
    started.start()
    yield started
    started.stop()


def secret_file(path: Path, value: str) -> str:
    """`value` in a new file of mode 0600, with white space around it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(f"  {value}\n\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return str(path)


def cache_hits(text: str) -> float:
    return metric_value(text, "lucid_session_cache_lookups_total", missing=0.0, result="hit")


def test_redis_and_engine_urls_come_from_private_files(
    tmp_path: Path, redis_url: str, engine: Engine
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    engine_url = f"http://127.0.0.1:{engine.port}/anchor"
    env = {
        "REDIS_URL_FILE": secret_file(secrets / "redis_url", redis_url),
        "BLOCKCHAIN_ENGINE_URL_FILE": secret_file(secrets / "engine_url", engine_url),
        "LUCID_ANCHOR_INTERVAL_SECONDS": "1",
    }
    service = ServiceProcess(tmp_path / "service", env=env)
    service.data_dir.mkdir()
    environment = service.environment()
    assert "REDIS_URL" not in environment
    assert "BLOCKCHAIN_ENGINE_URL" not in environment
    cached = redis.Redis.from_url(redis_url)
    assert cached.dbsize() == 0
    service.start()
    try:
        with service.client() as http:
            health = http.get("/health")
            assert health.status_code == 200, health.text
            assert health.json()["checks"]["cache"] == "ok"
            assert health.json()["status"] == "healthy"

            sid = _completed(http, name="anchored through a file")
            before = cache_hits(http.get("/metrics").text)
            for _ in range(3):
                assert http.get(f"{BASE}/{sid}").status_code == 200
            assert cache_hits(http.get("/metrics").text) >= before + 3
            assert cached.dbsize() > 0, "the service keeps its sessions in that redis-server"

            size = http.get(LOG).json()["tree_size"]
            assert size >= 1
            eventually(
                lambda: any(p["head"]["tree_size"] >= size for p in engine.received),
                "the head reaches the engine named in the file",
            )
            assert all(p["type"] == "lucid-sessions/log-head" for p in engine.received)
    finally:
        cached.close()
        assert service.stop_gracefully()
    log = service.log_path.read_text()
    assert "secret_file_not_private" not in log  # private files: read without a warning
    assert "log_head_not_anchored" not in log  # an engine was configured
