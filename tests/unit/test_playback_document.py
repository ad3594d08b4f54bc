"""The served OpenAPI document says how the playback routes are reached: the three reads with
a bearer token or a signed link (`playbackLink`, the `access_token` query parameter), making a
link with a bearer token only, the player page with nothing; and their media types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from lucid_sessions.bootstrap.app import create_litestar
from tests.graph import fake_container

PLAYBACK = "/api/v1/sessions/{session_id}/playback"


def document(tmp_path: Path) -> dict[str, Any]:
    with TestClient(create_litestar(fake_container(tmp_path))) as client:
        answer = client.get("/schema/openapi.json")
        assert answer.status_code == 200
        return dict(answer.json())


def test_how_each_playback_route_is_reached(tmp_path: Path) -> None:
    served = document(tmp_path)
    scheme = served["components"]["securitySchemes"]["playbackLink"]
    assert scheme == {**scheme, "type": "apiKey", "in": "query", "name": "access_token"}
    either = [{"bearerAuth": []}, {"playbackLink": []}]
    for path in (PLAYBACK, f"{PLAYBACK}/index.m3u8", f"{PLAYBACK}/recording.mp4"):
        assert served["paths"][path]["get"]["security"] == either, path
    assert "security" not in served["paths"][f"{PLAYBACK}/links"]["post"]  # the default: bearer
    assert served["security"] == [{"bearerAuth": []}]
    assert served["paths"]["/player/{session_id}"]["get"]["security"] == []


def test_the_media_types_are_declared(tmp_path: Path) -> None:
    paths = document(tmp_path)["paths"]
    playlist = paths[f"{PLAYBACK}/index.m3u8"]["get"]["responses"]
    assert list(playlist["200"]["content"]) == ["application/vnd.apple.mpegurl"]
    media = paths[f"{PLAYBACK}/recording.mp4"]["get"]["responses"]
    assert list(media["200"]["content"]) == ["video/mp4"]
    assert list(media["206"]["content"]) == ["video/mp4"]
    assert {"200", "206", "304", "416"} <= set(media)
    assert list(paths["/player/{session_id}"]["get"]["responses"]["200"]["content"]) == [
        "text/html"
    ]
