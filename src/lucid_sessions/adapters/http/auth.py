"""Authentication on every route: the bearer token becomes the principal of the request.

Every route needs a bearer token except those marked `PUBLIC` (`GET /`, `GET /health`, the
player page) and the OpenAPI document and docs pages under the schema path. `/metrics` is
public only when configured so, and otherwise for admins only. The `PLAYBACK` routes take a
signed link's `access_token` query parameter instead: when it is there, the link alone
decides (a bearer token beside it is not looked at), and its grant is what the route reads.
The check runs before the request body is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from lucid_sessions.adapters.http.inputs import scope_header
from lucid_sessions.app.usecases.authenticate import Authenticate
from lucid_sessions.domain.playback_link import PlaybackGrant
from lucid_sessions.domain.principal import Principal

__all__ = [
    "METRICS",
    "PLAYBACK",
    "PUBLIC",
    "AuthenticationMiddleware",
    "OpenLink",
    "bearer_credential",
    "current_access",
    "current_principal",
]

PUBLIC: dict[str, Any] = {"public": True}
"""`opt` of a route anyone may call."""

METRICS: dict[str, Any] = {"metrics": True}
"""`opt` of the metrics routes: public when configured so, else for admins."""

PLAYBACK: dict[str, Any] = {"playback": True}
"""`opt` of the playback reads: a bearer token, or a signed link's `access_token`."""

OpenLink = Callable[[str, str], PlaybackGrant]
"""(token, session id) -> the grant, or `InvalidLink` (401)."""

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
        open_link: OpenLink,
    ) -> None:
        self._app, self._authenticate, self._open_link = app, authenticate, open_link
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
        if opt.get("playback"):
            token = _access_token(scope)
            if token is not None:
                session_id = str(scope["path_params"].get("session_id", ""))
                grant = self._open_link(token, session_id)  # InvalidLink: 401
                scope.setdefault("state", {})[_STATE_KEY] = grant
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


def current_access(request: Request[Any, Any, Any]) -> Principal | PlaybackGrant:
    """Who reads on a `PLAYBACK` route: the principal, or the signed link's grant."""
    access: Principal | PlaybackGrant = request.state[_STATE_KEY]
    return access


def _access_token(scope: Scope) -> str | None:
    """The `access_token` query parameter (the last one, if repeated), or None."""
    found = None
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == "access_token":
            found = value
    return found
