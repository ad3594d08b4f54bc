"""The production configuration's failure modes, with real MongoDB-protocol and Redis servers:
Redis killed mid-run, MongoDB down at run time and at start-up, missing production secrets."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.http import BASE, eventually
from tests.servers import ServiceProcess, free_port
from tests.servers_db import MongoecoServer, RedisServer, running_or_skip

pytestmark = pytest.mark.e2e


# Servers of the test's own, not the session's (tests/conftest.py): these tests kill them and
# start them again (Redis mid-run, MongoDB at run time), or need MongoDB on a SQLite file
# that outlives its restart.
@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_or_skip(RedisServer(tmp_path / "redis")) as server:
        yield server


@pytest.fixture
def mongo_server(tmp_path: Path) -> Iterator[MongoecoServer]:
    durable = MongoecoServer(tmp_path / "mongo", sqlite_path=tmp_path / "mongo.sqlite3")
    with running_or_skip(durable) as server:
        yield server


def mongo_url(server: MongoecoServer) -> str:
    return server.url.replace("/?", "/lucid_e2e?") + "&serverSelectionTimeoutMS=1500"


def new_session(http: httpx.Client, name: str = "prod") -> str:
    response = http.post(BASE, json={"name": name, "rdp_config": {"host": "h"}})
    assert response.status_code == 201, response.text
    return str(response.json()["session_id"])


def test_killing_redis_mid_run_loses_no_request(
    tmp_path: Path, mongo_server: MongoecoServer, redis_server: RedisServer
) -> None:
    env = {"MONGODB_URL": mongo_url(mongo_server), "REDIS_URL": redis_server.url}
    service = ServiceProcess(tmp_path / "service", env=env)
    service.data_dir.mkdir()
    service.start()
    failures: list[str] = []
    done = threading.Event()
    count = 0

    def traffic() -> None:
        nonlocal count
        with service.client(timeout=30.0) as http:
            while not done.is_set():
                sid = new_session(http)
                for name in ("a", "b"):
                    put = http.put(f"{BASE}/{sid}", json={"name": name})
                    got = http.get(f"{BASE}/{sid}")
                    if put.status_code != 200 or got.status_code != 200:
                        failures.append(f"{put.status_code} {got.status_code} {got.text}")
                    elif got.json()["name"] != name:
                        failures.append(f"stale read: {got.json()['name']} != {name}")
                count += 1

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        with service.client(timeout=30.0) as http:
            eventually(lambda: count >= 5, "traffic flows")
            redis_server.kill()
            eventually(
                lambda: http.get("/health").json()["status"] == "degraded", "health degraded"
            )
            health = http.get("/health")
            assert health.status_code == 200
            assert health.json()["checks"]["cache"] == "down"
            seen = count
            eventually(lambda: count >= seen + 5, "traffic flows on")
            redis_server.start()
            eventually(lambda: http.get("/health").json()["status"] == "healthy", "health healthy")
            seen = count
            eventually(lambda: count >= seen + 5, "traffic flows on")
    finally:
        done.set()
        worker.join(timeout=60)
        service.stop()
    assert failures == []
    log = service.log_path.read_text()
    assert log.count('"cache_unavailable"') == 1, "the outage is logged once"
    assert '"cache_recovered"' in log


def test_database_outage_answers_503_and_recovers(
    tmp_path: Path, mongo_server: MongoecoServer
) -> None:
    service = ServiceProcess(tmp_path / "service", env={"MONGODB_URL": mongo_url(mongo_server)})
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(timeout=30.0) as http:
            sid = new_session(http, "survivor")
            mongo_server.kill()
            down = http.get(f"{BASE}/{sid}")
            assert down.status_code == 503, down.text
            assert int(down.headers["retry-after"]) > 0
            assert down.json()["status_code"] == 503
            assert (
                http.post(BASE, json={"name": "x", "rdp_config": {"host": "h"}}).status_code == 503
            )
            health = http.get("/health")
            assert health.status_code == 503
            assert health.json()["checks"]["database"] == "down"
            mongo_server.start()
            eventually(lambda: http.get(f"{BASE}/{sid}").status_code == 200, "the session answers")
            assert http.get(f"{BASE}/{sid}").json()["name"] == "survivor"
            assert http.get("/health").json()["status"] == "healthy"
    finally:
        service.stop()


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "LUCID_ENV": "production",
        "LUCID_STORAGE_PATH": str(tmp_path / "data" / "sessions"),
        "LUCID_CHUNK_STORE_PATH": str(tmp_path / "data" / "chunks"),
        **extra,
    }


def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    service = ServiceProcess(Path("/nonexistent"), env=env)
    done = service.run_cli(*args, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_production_requires_mongodb(tmp_path: Path) -> None:
    code, output = run_cli(production_env(tmp_path), "check-config")
    assert code == 2
    assert "MONGODB_URL" in output


def test_production_refuses_an_unreachable_database(tmp_path: Path) -> None:
    url = f"mongodb://127.0.0.1:{free_port()}/lucid?serverSelectionTimeoutMS=800"
    key = base64.b64encode(os.urandom(32)).decode()
    env = production_env(tmp_path, MONGODB_URL=url, LUCID_MASTER_KEY=key)
    code, output = run_cli(env, "serve", "--port", str(free_port()))
    assert code == 2
    assert "cannot be reached" in output
    assert "Traceback" not in output


def test_production_refuses_missing_secrets(tmp_path: Path, mongo_server: MongoecoServer) -> None:
    env = production_env(tmp_path, MONGODB_URL=mongo_url(mongo_server))
    code, output = run_cli(env, "serve", "--port", str(free_port()))
    assert code == 2
    assert "LUCID_MASTER_KEY" in output
    assert "Traceback" not in output
    env["LUCID_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    code, output = run_cli(env, "serve", "--port", str(free_port()))
    assert code == 2
    assert "LUCID_SIGNING_KEY_FILE" in output
    assert not (tmp_path / "data" / "sessions" / "keys").exists(), "production generates no key"
