"""The last resort: an error no handler expected answers a JSON 500 and logs one line with the
error's type and the route template, never a traceback, the error's message or a path."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import anyio
import pytest

from lucid_sessions.adapters.http.semantics import AllowTable, HttpSemantics
from lucid_sessions.adapters.logging import configure_logging
from lucid_sessions.adapters.telemetry.prometheus import PrometheusTelemetry

SECRET_PATH = "/opt/install/site-packages/lucid_sessions/secret.py"


async def _raising_app(scope: Any, receive: Any, send: Any) -> None:
    scope["path_template"] = "/api/v1/sessions/{session_id}"
    raise ValueError(f"embedded null byte in {SECRET_PATH}")


def _call(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/sessions/x", "headers": []}
    anyio.run(app, scope, receive, send)
    return sent


def test_an_escaped_error_is_one_line_and_a_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    configure_logging("INFO")
    app = HttpSemantics(_raising_app, AllowTable([]), PrometheusTelemetry())
    sent = _call(app)
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"status_code": 500, "detail": "Internal Server Error"}
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    failures = [line for line in lines if line["event"] == "unhandled_error"]
    assert len(failures) == 1
    assert failures[0]["error"] == "ValueError"
    assert failures[0]["route"] == "/api/v1/sessions/{session_id}"
    assert "request_id" in failures[0]
    text = out.getvalue()
    assert "Traceback" not in text
    assert SECRET_PATH not in text
    assert "embedded null byte" not in text
    request_line = next(line for line in lines if line["event"] == "request")
    assert request_line["status"] == 500
