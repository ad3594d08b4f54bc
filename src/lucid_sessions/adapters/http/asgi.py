"""The ASGI app the server runs: Litestar's app inside the layers every request passes first.

From the outside in:

- `HttpSemantics`: request id, the log line and the metrics of every answer, `HEAD` as
  `GET`, `OPTIONS` and `Allow` (`semantics.py`);
- `DrainingLayer`: 503 while the process stops (`draining.py`);
- the Litestar app: CORS, routing, authentication, JSON bodies, the handlers.

The layers wrap the Litestar app from outside, as any ASGI app: lifespan events pass through
both to Litestar, which runs the app's start-up and shutdown.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ASGIApp

from lucid_sessions.adapters.http.draining import Draining, DrainingLayer
from lucid_sessions.adapters.http.semantics import AllowTable, HttpSemantics
from lucid_sessions.domain.ports.telemetry import Telemetry

__all__ = ["allow_table", "layered"]


def allow_table(app: Litestar) -> AllowTable:
    """Which methods each path of `app` answers, from its routes."""
    return AllowTable((route.path_format, route.methods) for route in app.routes)


def layered(app: Litestar, draining: Draining, telemetry: Telemetry) -> ASGIApp:
    """`app` inside the HTTP layers: what the server (or a test client) is given."""
    return HttpSemantics(DrainingLayer(app, draining), allow_table(app), telemetry)
