"""The Sessions part of the HTTP contract, over a real server."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
import pytest

from tests.e2e.http import BASE
from tests.servers import ServiceProcess

pytestmark = pytest.mark.e2e


def create(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "desk", "rdp_config": {"host": "10.1.2.3"}}
    body.update(overrides)
    response = client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_error(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert body["status_code"] == status
    text = response.text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text}"
    assert "Traceback" not in text
    assert "/tmp" not in text
    return body


def test_root_health_and_schema(client: httpx.Client, server: ServiceProcess) -> None:
    root = client.get("/").json()
    assert root["service"] == "lucid-session-api"
    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy"
    assert body["service"] == "session-api"
    cache = "disabled" if server.env.get("REDIS_URL") is None else "ok"
    expected = {"database": "ok", "cache": cache, "storage": "ok", "keys": "ok"}
    if server.env.get("LUCID_BLOB_STORE") != "s3":  # an object store has no free-space floor
        expected["free_space"] = "ok"
    assert body["checks"] == expected
    schema = client.get("/schema/openapi.json").json()
    assert f"{BASE}/{{session_id}}/start" in schema["paths"]
    assert client.get(f"{BASE}/health").json()["status"] == "healthy"


def test_create_returns_every_field_but_the_password(client: httpx.Client) -> None:
    created = create(
        client,
        description="support call",
        rdp_config={"host": "h", "port": 3390, "username": "u", "password": "s3cret!"},
        recording_config={"frame_rate": 15, "resolution": "1280x720", "compression": "lz4"},
        storage_config={"retention_days": 7},
        metadata={"project": "p", "environment": "prod", "tags": ["a", "b"], "owner": "o"},
    )
    assert created["session_id"].startswith("sess-")
    assert len(created["session_id"]) == 31
    assert created["status"] == "created"
    assert created["rdp_config"]["port"] == 3390
    assert created["recording_config"]["compression"] == "lz4"
    assert created["storage_config"]["retention_days"] == 7
    assert created["metadata"]["tags"] == ["a", "b"]
    assert created["statistics"]["chunks_count"] == 0
    assert created["merkle_root"] is None
    assert created["error"] is None
    assert created["created_at"].endswith("Z")
    fetched = client.get(f"{BASE}/{created['session_id']}")
    assert fetched.status_code == 200
    assert "s3cret" not in fetched.text
    assert "password" not in fetched.text
    assert fetched.json()["session_id"] == created["session_id"]


def test_recording_lifecycle(client: httpx.Client) -> None:
    sid = create(client)["session_id"]
    for action, status in [
        ("start", "recording"),
        ("pause", "paused"),
        ("resume", "recording"),
        ("stop", "stopped"),
    ]:
        response = client.post(f"{BASE}/{sid}/{action}")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    body = client.get(f"{BASE}/{sid}").json()
    assert body["started_at"]
    assert body["stopped_at"]
    assert body["statistics"]["duration_seconds"] >= 0
    # After stop, finalization moves the session on in the background.
    assert body["status"] in {"stopped", "processing", "completed"}
    refused = assert_error(client.post(f"{BASE}/{sid}/start"), 409)
    assert "cannot start" in refused["detail"]


def test_forbidden_transition_is_409_and_changes_nothing(client: httpx.Client) -> None:
    sid = create(client)["session_id"]
    before = client.get(f"{BASE}/{sid}").json()
    assert_error(client.post(f"{BASE}/{sid}/resume"), 409, "created")
    assert client.get(f"{BASE}/{sid}").json() == before


def test_ten_concurrent_starts(client: httpx.Client, server: ServiceProcess) -> None:
    sid = create(client)["session_id"]

    def start(_: int) -> int:
        with server.client(timeout=30.0) as http:
            return http.post(f"{BASE}/{sid}/start").status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(start, range(10)))
    assert codes == [200] + [409] * 9
    assert client.get(f"{BASE}/{sid}").json()["status"] == "recording"


def test_update(client: httpx.Client) -> None:
    sid = create(client)["session_id"]
    response = client.put(
        f"{BASE}/{sid}",
        json={
            "name": "renamed",
            "metadata": {"tags": ["x"]},
            "recording_config": {"frame_rate": 5},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "renamed"
    assert body["metadata"]["tags"] == ["x"]
    assert body["recording_config"]["frame_rate"] == 5
    client.post(f"{BASE}/{sid}/start")
    assert_error(
        client.put(f"{BASE}/{sid}", json={"recording_config": {"frame_rate": 6}}),
        409,
        "recording",
    )
    assert client.get(f"{BASE}/{sid}").json()["recording_config"]["frame_rate"] == 5


def test_delete(client: httpx.Client) -> None:
    sid = create(client)["session_id"]
    client.post(f"{BASE}/{sid}/start")
    assert_error(client.delete(f"{BASE}/{sid}"), 409, "recording")
    response = client.delete(f"{BASE}/{sid}", params={"force": "true"})
    assert response.status_code == 200
    assert response.json() == {"session_id": sid, "deleted": True}
    assert_error(client.get(f"{BASE}/{sid}"), 404, sid)
    held = create(client, storage_config={"legal_hold": True})["session_id"]
    assert_error(client.delete(f"{BASE}/{held}", params={"force": "true"}), 409, "legal hold")


def test_list_filters_and_pagination(client: httpx.Client) -> None:
    marker = "list-e2e"
    ids = [
        create(client, metadata={"project": marker, "tags": [f"n{i}"], "environment": "e"})[
            "session_id"
        ]
        for i in range(4)
    ]
    client.post(f"{BASE}/{ids[1]}/start")
    page = client.get(BASE, params={"project": marker, "limit": 3}).json()
    assert [s["session_id"] for s in page["sessions"]] == ids[::-1][:3]
    assert (page["total"], page["has_next"], page["has_previous"]) == (4, True, False)
    page2 = client.get(BASE, params={"project": marker, "limit": 3, "offset": 3}).json()
    assert [s["session_id"] for s in page2["sessions"]] == [ids[0]]
    assert page2["has_previous"]
    assert not page2["has_next"]
    recording = client.get(BASE, params={"project": marker, "status": "recording"}).json()
    assert [s["session_id"] for s in recording["sessions"]] == [ids[1]]
    tagged = client.get(BASE, params={"tag": "n2", "project": marker}).json()
    assert [s["session_id"] for s in tagged["sessions"]] == [ids[2]]
    created_at = client.get(f"{BASE}/{ids[2]}").json()["created_at"]
    after = client.get(BASE, params={"project": marker, "created_after": created_at}).json()
    assert [s["session_id"] for s in after["sessions"]] == [ids[3], ids[2]]


def test_static_routes_are_not_captured_by_session_id(client: httpx.Client) -> None:
    assert client.get(f"{BASE}/statistics").json()["sessions_total"] >= 0
    assert client.get(f"{BASE}/metrics").text.startswith("# HELP")
    assert client.get(f"{BASE}/health").json()["service"] == "session-api"


def test_system_statistics(client: httpx.Client) -> None:
    create(client)
    stats = client.get(f"{BASE}/statistics").json()
    assert stats["sessions_total"] == sum(stats["sessions_by_status"].values())
    assert set(stats["sessions_by_status"]) == {
        "created",
        "recording",
        "paused",
        "stopped",
        "processing",
        "completed",
        "failed",
    }
    assert stats["storage"]["free_bytes"] > 0


def test_metrics(client: httpx.Client) -> None:
    create(client)
    text = client.get("/metrics").text
    assert 'lucid_sessions{status="created"}' in text
    assert 'lucid_http_requests_total{method="POST",route="/api/v1/sessions",status="201"}' in text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rdp_config": {"host": "h"}}, "name"),
        ({"name": "x"}, "rdp_config"),
        ({"name": "x", "rdp_config": {"host": "h", "port": 70000}}, "rdp_config.port"),
        ({"name": "x", "rdp_config": {"host": "h", "port": "22"}}, "rdp_config.port"),
        (
            {"name": "x", "rdp_config": {"host": "h"}, "recording_config": {"frame_rate": 0}},
            "recording_config.frame_rate",
        ),
        (
            {"name": "x", "rdp_config": {"host": "h"}, "recording_config": {"quality": "best"}},
            "recording_config.quality",
        ),
        (
            {
                "name": "x",
                "rdp_config": {"host": "h"},
                "recording_config": {"resolution": "100x100"},
            },
            "recording_config.resolution",
        ),
        (
            {"name": "x", "rdp_config": {"host": "h"}, "metadata": {"tags": ["t"] * 11}},
            "metadata.tags",
        ),
        (
            {"name": "x", "rdp_config": {"host": "h"}, "metadata": {"priority": "urgent"}},
            "metadata.priority",
        ),
        (
            {"name": "x", "rdp_config": {"host": "h"}, "storage_config": {"retention_days": 0}},
            "storage_config.retention_days",
        ),
        ({"name": "x", "rdp_config": {"host": "h"}, "unknown": 1}, "unknown"),
    ],
)
def test_bad_bodies_name_the_field(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_error(client.post(BASE, json=body), 400, field)


def test_malformed_json_and_bad_queries(client: httpx.Client) -> None:
    assert_error(
        client.post(BASE, content=b"{not json", headers={"content-type": "application/json"}),
        400,
    )
    assert_error(client.post(BASE, json=[1, 2]), 400)
    assert_error(client.get(BASE, params={"limit": 0}), 400, "limit")
    assert_error(client.get(BASE, params={"limit": 1001}), 400, "limit")
    assert_error(client.get(BASE, params={"status": "sleeping"}), 400, "status")
    assert_error(client.get(BASE, params={"created_after": "yesterday"}), 400, "created_after")


def test_unknown_and_malformed_ids(client: httpx.Client) -> None:
    assert_error(client.get(f"{BASE}/sess-unknown"), 404, "sess-unknown")
    assert_error(client.post(f"{BASE}/sess-unknown/start"), 404)
    assert_error(client.get(f"{BASE}/{'x' * 65}"), 400, "session_id")
    assert_error(client.get(f"{BASE}/bad.id"), 400, "session_id")
    assert_error(client.delete(f"{BASE}/bad%20id"), 400, "session_id")


def test_data_survives_restart(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> None:
    service = ServiceProcess(tmp_path_factory.mktemp("restart"), env=stack_env)
    service.start()
    try:
        with service.client() as http:
            sid = create(http, name="durable")["session_id"]
            http.post(f"{BASE}/{sid}/start")
        assert service.stop_gracefully()
        service.start()
        with service.client() as http:
            body = http.get(f"{BASE}/{sid}").json()
            assert (body["name"], body["status"]) == ("durable", "recording")
    finally:
        service.stop()
