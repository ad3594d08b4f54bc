"""The composition root with fakes swapped in: the real Litestar app, in process."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from litestar.testing import TestClient

from lucid_sessions.adapters.memory import (
    InMemorySessionRepository,
)
from lucid_sessions.bootstrap.app import HTTP_DEPENDENCIES, create_app
from lucid_sessions.bootstrap.container import running
from tests.graph import fake_container

BASE = "/api/v1/sessions"


def test_every_provider_resolves(tmp_path: Path) -> None:
    async def resolve() -> None:
        async with running(fake_container(tmp_path)) as container:
            for name in HTTP_DEPENDENCIES:
                assert getattr(container, name)() is not None, name
            for name in ("finalization_runner", "verify_session", "rewrap_data_keys"):
                assert getattr(container, name)() is not None, name

    anyio.run(resolve)


def test_the_app_on_fakes_records_and_finalizes(tmp_path: Path) -> None:
    container = fake_container(tmp_path)
    with TestClient(create_app(container)) as client:
        created = client.post(BASE, json={"name": "desk", "rdp_config": {"host": "h"}})
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        assert sid == "sess-test-000001", "the fake id generator is the one wired"
        assert client.post(f"{BASE}/{sid}/start").status_code == 200
        data = b"frame " * 50_000
        headers = {"content-type": "application/octet-stream"}
        assert (
            client.put(f"{BASE}/{sid}/chunks/0", content=data, headers=headers).status_code == 201
        )
        assert client.get(f"{BASE}/{sid}/chunks/0/download").content == data
        assert client.post(f"{BASE}/{sid}/stop").status_code == 200
        deadline = time.monotonic() + 10
        while client.get(f"{BASE}/{sid}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "finalization did not complete"
            time.sleep(0.05)
        manifest = client.get(f"{BASE}/{sid}/manifest").json()
        assert manifest["signature"]
        assert manifest["chunks_count"] == 1
        health = client.get("/health").json()
        assert health["checks"] == {
            "database": "ok",
            "cache": "disabled",
            "storage": "ok",
            "signing_key": "ok",
            "free_space": "ok",
        }
    stores = container.stores()
    assert isinstance(stores.sessions, InMemorySessionRepository), "the fakes stayed in place"


@pytest.mark.parametrize("missing", ["stores"])
def test_an_unopened_graph_fails_loudly(tmp_path: Path, missing: str) -> None:
    container = fake_container(tmp_path)
    getattr(container, missing).reset_override()
    with pytest.raises(Exception):  # noqa: B017, PT011 - dependency-injector's own error
        container.create_session()


def test_while_draining_new_requests_are_503_and_health_still_answers(tmp_path: Path) -> None:
    container = fake_container(tmp_path)
    with TestClient(create_app(container)) as client:
        sid = client.post(BASE, json={"name": "n", "rdp_config": {"host": "h"}}).json()
        sid = sid["session_id"]
        assert client.post(f"{BASE}/{sid}/start").status_code == 200
        container.draining().begin()  # what SIGTERM does
        headers = {"content-type": "application/octet-stream"}
        refused = client.put(f"{BASE}/{sid}/chunks/0", content=b"x", headers=headers)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.headers["connection"] == "close"
        assert "shutting down" in refused.json()["detail"]
        assert refused.headers["x-request-id"]
        assert client.get("/health").status_code == 200
        assert client.get(f"{BASE}/{sid}").status_code == 503
    stored = anyio.run(container.session_repository().get, sid)
    assert stored.chunks_count == 0, "a refused upload stores nothing"
