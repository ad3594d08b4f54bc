"""What the server runs: Litestar's app inside the HTTP layers, serving the completed
OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import yaml
from litestar import Litestar, get
from litestar.testing import TestClient

from lucid_sessions.adapters.http.asgi import layered
from lucid_sessions.adapters.http.draining import Draining
from lucid_sessions.adapters.telemetry.prometheus import PrometheusTelemetry
from lucid_sessions.bootstrap.app import create_app
from tests.graph import fake_container


def test_the_layers_wrap_litestar_and_pass_its_lifespan_through() -> None:
    events: list[str] = []

    @get("/ping", sync_to_thread=False)
    def ping() -> str:
        return "pong"

    app = Litestar(
        route_handlers=[ping],
        on_startup=[lambda: events.append("startup")],
        on_shutdown=[lambda: events.append("shutdown")],
    )
    inner = app.asgi_handler
    draining = Draining()
    with TestClient(layered(app, draining, PrometheusTelemetry())) as client:
        assert events == ["startup"]
        answer = client.head("/ping")
        assert (answer.status_code, answer.content) == (200, b"")
        assert answer.headers["x-request-id"]
        draining.begin()
        assert client.get("/ping").status_code == 503
    assert events == ["startup", "shutdown"]
    assert app.asgi_handler is inner, "Litestar's own handler stays as it is"


def test_every_docs_page_serves_one_completed_document(tmp_path: Path) -> None:
    client = TestClient(create_app(fake_container(tmp_path)))
    first = client.get("/schema/openapi.json")
    assert first.status_code == 200
    document = first.json()
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["components"]["schemas"]["Error"]["required"] == ["status_code", "detail"]
    upload = document["paths"]["/api/v1/sessions/{session_id}/chunks/{chunk_id}"]["put"]
    names = [parameter["name"] for parameter in upload["parameters"]]
    assert names.count("X-Content-BLAKE3") == 1
    assert client.get("/schema/openapi.json").content == first.content, "completed once"
    assert yaml.safe_load(client.get("/schema/openapi.yaml").content) == document
    assert first.content in client.get("/schema").content
    assert first.content in client.get("/schema/swagger").content
