"""The composition root with fakes swapped in: the real Litestar app, in process."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from dependency_injector import errors
from litestar.testing import TestClient

from lucid_sessions.adapters.memory import InMemoryBlobStore, InMemorySessionRepository
from lucid_sessions.bootstrap.app import HTTP_DEPENDENCIES, create_app
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.bootstrap.factories import DataFolders
from lucid_sessions.bootstrap.settings import load_settings
from tests.e2e.http import BASE
from tests.graph import fake_container, fake_stores


def test_every_provider_resolves(tmp_path: Path) -> None:
    container = fake_container(tmp_path)
    for name, provider in container.providers.items():
        assert provider() is not None or name == "cache", name
    for name in HTTP_DEPENDENCIES:
        assert name in container.providers, name


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
            "keys": "ok",
            "free_space": "ok",
        }
    stores = container.stores()
    assert isinstance(stores.sessions, InMemorySessionRepository), "the fakes stayed in place"


@pytest.mark.parametrize("missing", ["settings", "folders", "stores"])
def test_a_graph_without_what_it_must_be_given_fails_naming_it(missing: str) -> None:
    given = {"settings": load_settings({}), "folders": DataFolders(Path("s"), Path("c"))}
    given["stores"] = fake_stores()
    container = Container(**{name: value for name, value in given.items() if name != missing})
    with pytest.raises(errors.Error, match=f'Dependency "Container.{missing}" is not defined'):
        container.ingest_chunk()


def test_what_a_caller_passes_replaces_the_provider(tmp_path: Path) -> None:
    blobs = InMemoryBlobStore()
    container = fake_container(tmp_path, blob_store=blobs, owner="replica-a")
    assert container.blob_store() is blobs
    assert container.claims().owner == "replica-a"
    assert fake_container(tmp_path).claims().owner != "replica-a"


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
