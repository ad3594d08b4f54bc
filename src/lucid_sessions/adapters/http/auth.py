"""Authentication on every route: the bearer token becomes the principal of the request.

Every route needs a bearer token except those marked `PUBLIC` (`GET /`, `GET /health`) and
the OpenAPI document and docs pages under the schema path. `/metrics` is public only when
configured so, and otherwise for admins only. The check runs before the request body is read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from lucid_sessions.adapters.http.inputs import scope_header
from lucid_sessions.app.usecases.authenticate import Authenticate
from lucid_sessions.domain.principal import Principal

__all__ = [
    "METRICS",
    "PUBLIC",
    "AuthenticationMiddleware",
    "bearer_credential",
    "current_principal",
]

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


class AuthenticationMiddleware:
    """Authenticates every request a route serves before the route runs (and before its
    body is read), unless the route is public; the principal goes in the request's state.

    An ASGI layer inside Litestar's routing (it reads the matched handler's `opt`) rather than
    a guard: Litestar copies the route handler for every guard call, which on a simple read
    cost a tenth of the request."""

    def __init__(
        self,
        app: ASGIApp,
        authenticate: Authenticate,
        metrics_public: bool,
        schema_path: str,
    ) -> None:
        self._app, self._authenticate = app, authenticate
        self._metrics_public = metrics_public
        self._schema_path = schema_path
        self._schema_prefix = schema_path.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            self._check(scope)
        await self._app(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        opt = scope["route_handler"].opt
        if opt.get("public") or (self._metrics_public and opt.get("metrics")):
            return
        path = scope["path"]
        if path == self._schema_path or path.startswith(self._schema_prefix):
            return
        authorization = scope_header(scope, b"authorization")
        principal = self._authenticate(bearer_credential(authorization))  # 401
        if opt.get("metrics"):
            principal.require_admin("read the service's metrics")  # Forbidden: 403
        scope.setdefault("state", {})[_STATE_KEY] = principal


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal `AuthenticationMiddleware` authenticated for this request."""
    principal: Principal = request.state[_STATE_KEY]
    return principal
