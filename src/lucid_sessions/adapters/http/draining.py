"""Draining: once the process is asked to stop (SIGTERM), requests that reach the app are
answered 503 with `Retry-After` and `Connection: close`, while those already running finish.

The server stops accepting connections at the same moment and waits (a bounded time) for the
requests in flight; a request that still arrives on an open keep-alive connection meanwhile
is told to retry elsewhere or shortly, instead of starting work (an upload) that the shutdown
could cut off. `GET /health` keeps answering, so a load balancer sees the instance go.
"""

from __future__ import annotations

import json
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["DRAINING_RETRY_AFTER", "Draining", "DrainingLayer"]

DRAINING_RETRY_AFTER = 5
_EXEMPT = frozenset({"/health"})


class Draining:
    """The process-wide "we are stopping" flag; set from the signal handler."""

    def __init__(self) -> None:
        self.active = False

    def begin(self) -> None:
        self.active = True


class DrainingLayer:
    def __init__(self, app: ASGIApp, draining: Draining) -> None:
        self._app, self._draining = app, draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not self._draining.active or scope["path"] in _EXEMPT:
            await self._app(scope, receive, send)
            return
        body = json.dumps(
            {
                "status_code": 503,
                "detail": "the service is shutting down; retry shortly (or on another instance)",
            }
        ).encode()
        start: Any = {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(DRAINING_RETRY_AFTER).encode()),
                (b"connection", b"close"),
            ],
        }
        await send(start)
        end: Any = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)
