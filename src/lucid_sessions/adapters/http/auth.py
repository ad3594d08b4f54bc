"""Authentication on every route: a guard that turns the bearer token into the principal.

Every route needs a bearer token except those marked `PUBLIC` (`GET /`, `GET /health`) and
the OpenAPI document and docs pages under the schema path. `/metrics` is public only when
configured so, and otherwise for admins only. The guard runs before the request body is read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from lucid_sessions.app.usecases.authenticate import Authenticate
from lucid_sessions.domain.principal import Principal

__all__ = ["METRICS", "PUBLIC", "authentication_guard", "bearer_credential", "current_principal"]

PUBLIC: dict[str, Any] = {"public": True}
"""`opt` of a route anyone may call."""

METRICS: dict[str, Any] = {"metrics": True}
"""`opt` of the metrics routes: public when configured so, else for admins."""

_STATE_KEY = "principal"


def bearer_credential(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def authentication_guard(
    authenticate: Authenticate, *, metrics_public: bool, schema_path: str
) -> Guard:
    """The guard of every route; `schema_path` is where the OpenAPI routes are (public)."""
    schema_prefix = schema_path.rstrip("/") + "/"

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get("public") or (metrics_public and handler.opt.get("metrics")):
            return
        path = connection.scope["path"]
        if path == schema_path or path.startswith(schema_prefix):
            return
        credential = bearer_credential(connection.headers.get("authorization"))
        principal = authenticate(credential)  # Unauthenticated: 401 with WWW-Authenticate
        if handler.opt.get("metrics"):
            principal.require_admin("read the service's metrics")  # Forbidden: 403
        connection.state[_STATE_KEY] = principal

    return guard


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal the guard authenticated (the `principal` dependency of handlers)."""
    principal: Principal = request.state[_STATE_KEY]
    return principal
