"""The HTTP rules every answer follows, in one place: an ASGI layer around the whole app.

- Every answer, routing's 404 and 405 included, carries `X-Request-ID` (the client's, when it
  sent a sane one, else a fresh one), is logged as one JSON line and counted in the metrics
  under its route template (`unmatched` for a path no route serves, so the label stays
  bounded).
- `HEAD` is answered wherever `GET` is: the request runs as a `GET` and the body is dropped,
  so status and headers are the same. A handler that can skip costly work for a `HEAD`
  asks `is_head(scope)`.
- `OPTIONS` (other than a CORS preflight, which the CORS middleware answers) is 204 with the
  path's true `Allow`; a 405 carries the same `Allow`.
- A failure after the status line went out (a stored chunk found corrupt half-way through a
  recording) cannot become an error status any more: the response is left incomplete, so the
  server closes the connection before the announced Content-Length is reached, which every
  HTTP client reports as an error. It is logged as `response_aborted`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from lucid_sessions.adapters.http.errors import log_unhandled
from lucid_sessions.adapters.http.inputs import scope_header
from lucid_sessions.domain.ports.telemetry import Telemetry

__all__ = ["HEAD_KEY", "AllowTable", "HttpSemantics", "is_head"]

HEAD_KEY = "lucid.head"
"""Scope key that marks a `HEAD` request running as a `GET`."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PARAMETER = re.compile(r"\{[^}/]+\}")
_log = structlog.get_logger("lucid_sessions.http")


def is_head(scope: Scope) -> bool:
    return bool(scope.get(HEAD_KEY))


@dataclass(frozen=True, slots=True)
class _Template:
    pattern: re.Pattern[str]
    parameters: int
    methods: frozenset[str]


class AllowTable:
    """Which methods each path answers, from the route templates (static segments first, as
    the router matches them)."""

    def __init__(self, routes: Iterable[tuple[str, Iterable[str]]]) -> None:
        merged: dict[str, set[str]] = {}
        for template, methods in routes:
            merged.setdefault(template, set()).update(m.upper() for m in methods)
        self._templates = sorted(
            (
                _Template(
                    _pattern(template),
                    len(_PARAMETER.findall(template)),
                    frozenset(_with_head_and_options(methods)),
                )
                for template, methods in merged.items()
            ),
            key=lambda template: template.parameters,
        )

    def allowed(self, path: str) -> frozenset[str] | None:
        """The methods `path` answers, or None when no route serves it."""
        for template in self._templates:
            if template.pattern.fullmatch(path):
                return template.methods
        return None


def _pattern(template: str) -> re.Pattern[str]:
    """`/a/{b}/c` as a pattern that matches `/a/<one segment>/c`."""
    literal = _PARAMETER.split(template)
    return re.compile("[^/]+".join(re.escape(part) for part in literal))


def _with_head_and_options(methods: set[str]) -> set[str]:
    found = set(methods) | {"OPTIONS"}
    if "GET" in found:
        found.add("HEAD")
    return found


class HttpSemantics:
    def __init__(self, app: ASGIApp, allow: AllowTable, telemetry: Telemetry) -> None:
        self._app, self._allow, self._telemetry = app, allow, telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        incoming = scope_header(scope, b"x-request-id") or ""
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        method = str(scope["method"])
        started = time.perf_counter()
        status = 500
        allow = self._allow.allowed(scope["path"])
        head = method == "HEAD"
        if head:
            scope = cast(Scope, {**scope, "method": "GET", HEAD_KEY: True})
        body_done = started_response = False

        async def send_with_semantics(message: Any) -> None:
            nonlocal status, body_done, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = int(message["status"])
                headers = (
                    [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    if status == 405
                    else list(message.get("headers", []))
                )
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                if status == 405 and allow is not None:
                    headers.append((b"allow", ", ".join(sorted(allow)).encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and head:
                if body_done or message.get("more_body", False):
                    return
                body_done = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if method == "OPTIONS" and not scope_header(scope, b"access-control-request-method"):
                status = await self._options(allow, send_with_semantics)
            else:
                await self._app(scope, receive, send_with_semantics)
        except Exception as exc:
            if not started_response:
                # Escaped every handler (a layer outside the router): the last resort.
                log_unhandled(exc, scope)
                status = 500
                await _send_json(
                    send_with_semantics,
                    500,
                    b'{"status_code":500,"detail":"Internal Server Error"}',
                )
                return
            cause: BaseException = exc
            while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
                cause = cause.exceptions[0]  # raised inside the streaming task group
            detail = getattr(cause, "detail", None) or type(cause).__name__
            _log.warning("response_aborted", path=scope["path"], status=status, error=detail)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template")
            label = route if isinstance(route, str) else "unmatched"
            self._telemetry.request_served(method, label, status, elapsed)
            _log.info(
                "request",
                method=method,
                route=label,
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    @staticmethod
    async def _options(allow: frozenset[str] | None, send: Send) -> int:
        if allow is None:
            await _send_json(send, 404, b'{"status_code":404,"detail":"Not Found"}')
            return 404
        headers = [(b"allow", ", ".join(sorted(allow)).encode()), (b"content-length", b"0")]
        start: Any = {"type": "http.response.start", "status": 204, "headers": headers}
        await send(start)
        end: Any = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(end)
        return 204


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    start: Any = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    end: Any = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
