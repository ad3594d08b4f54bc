"""The HTTP application factory: the HTTP adapter's controllers around a container."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from dependency_injector import providers
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp

from lucid_sessions import __version__
from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.adapters.http.asgi import layered
from lucid_sessions.adapters.http.auth import AuthenticationMiddleware
from lucid_sessions.adapters.http.body import JsonBodyMiddleware, JsonBodyRequest
from lucid_sessions.adapters.http.chunks import ChunkController
from lucid_sessions.adapters.http.docs import docs_assets_router, docs_render_plugins
from lucid_sessions.adapters.http.errors import exception_handlers
from lucid_sessions.adapters.http.integrity import IntegrityController
from lucid_sessions.adapters.http.keys import KeysController
from lucid_sessions.adapters.http.pipeline import PipelineController
from lucid_sessions.adapters.http.playback import PlaybackController
from lucid_sessions.adapters.http.player import player_router
from lucid_sessions.adapters.http.session_log import SessionLogController
from lucid_sessions.adapters.http.sessions import SessionController
from lucid_sessions.adapters.http.system import SystemController
from lucid_sessions.adapters.logging import configure_logging
from lucid_sessions.app.finalization_runner import FinalizationRunner
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.bootstrap.factories import OPEN_WARNING
from lucid_sessions.bootstrap.settings import Settings
from lucid_sessions.domain.errors import DomainError

__all__ = ["HTTP_DEPENDENCIES", "create_app", "create_litestar"]

_log = logging.getLogger("lucid_sessions.app")

HTTP_DEPENDENCIES: tuple[str, ...] = (
    "telemetry",
    "refresh_figures",
    "upload_limits",
    "check_health",
    "create_session",
    "get_session",
    "list_sessions",
    "update_session",
    "control_recording",
    "delete_session",
    "read_statistics",
    "ingest_chunk",
    "read_chunks",
    "prove_integrity",
    "control_pipeline",
    "read_session_log",
    "read_key_set",
    "read_playback",
    "playback_links",
)
"""What handlers ask for by name; each is the container's provider of the same name. The
principal is not one of them: handlers read what the authentication layer found
(`current_principal(request)`), since a second dependency per handler makes Litestar resolve
the two in a task group, which cost a third of a simple read's time."""

SCHEMA_PATH = "/schema"

CORS_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "If-Range",
    "Range",
    "X-Request-ID",
    "X-Content-BLAKE3",
    "X-Chunk-Timestamp",
    "X-Chunk-Duration-Seconds",
    "X-Chunk-Frame-Count",
]
CORS_EXPOSED = ["Content-Range", "ETag", "Location", "Retry-After", "X-Request-ID"]


def _cors(settings: Settings) -> CORSConfig | None:
    """Cross-origin requests from the configured origins only; credentials (cookies) never,
    so `*` can never be paired with them. Bearer tokens work without credentials mode."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=CORS_HEADERS,
        expose_headers=CORS_EXPOSED,
        allow_credentials=False,
        max_age=600,
    )


def _bridge(provider: providers.Provider[Any]) -> Provide:
    def resolve() -> Any:
        return provider()

    return Provide(resolve, sync_to_thread=False)


def _lifespan(container: Container) -> Callable[[Litestar], Any]:
    """Start-up checks the wiring and starts the background jobs; the container's stores are
    open already (whoever built it opened them) and stay open after the app stops."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        settings: Settings = container.settings()
        try:
            for name in HTTP_DEPENDENCIES:  # a wiring mistake fails here, at start-up
                getattr(container, name)()
        except (DomainError, ConfigurationError) as exc:
            detail = exc.detail if isinstance(exc, DomainError) else str(exc)
            _log.error("startup_failed", extra={"detail": detail})
            raise SystemExit(f"lucid-sessions: cannot start: {detail}") from None
        if container.authenticate().open:
            _log.warning("authentication_off", extra={"detail": OPEN_WARNING})
        runner: FinalizationRunner = container.finalization_runner()
        async with anyio.create_task_group() as background:
            await background.start(runner.run)
            await background.start(container.retention_job().run)
            await background.start(container.anchoring_job().run)
            _log.info(
                "started",
                extra={
                    "env": settings.env,
                    "store": container.stores().kind,
                    "cipher": container.cipher_name(),
                    "version": __version__,
                    "authentication": settings.authentication(),
                },
            )
            # What start-up built lives as long as the process: out of the collector's
            # sight, so that its full collections (the tail of the request latency) do
            # not walk it again and again.
            gc.freeze()
            try:
                yield
            finally:
                background.cancel_scope.cancel()
        _log.info("stopped")

    return lifespan


def create_app(container: Container) -> ASGIApp:
    """The HTTP service on `container` (open: see `open_container`): the Litestar app inside
    the HTTP adapter's layers (`adapters/http/asgi.py`), as the server runs it."""
    return layered(create_litestar(container), container.draining(), container.telemetry())


def create_litestar(container: Container) -> Litestar:
    """The Litestar app on `container`: routes, middleware, the OpenAPI document, lifespan."""
    settings: Settings = container.settings()
    configure_logging(settings.log_level)
    dependencies = {name: _bridge(getattr(container, name)) for name in HTTP_DEPENDENCIES}
    app = Litestar(
        route_handlers=[
            SystemController,
            SessionController,
            ChunkController,
            IntegrityController,
            PipelineController,
            SessionLogController,
            KeysController,
            PlaybackController,
            player_router(),
            docs_assets_router(SCHEMA_PATH),
        ],
        dependencies=dependencies,
        exception_handlers=exception_handlers(),
        cors_config=_cors(settings),
        middleware=[
            DefineMiddleware(
                AuthenticationMiddleware,
                authenticate=container.authenticate(),
                metrics_public=settings.metrics_public,
                schema_path=SCHEMA_PATH,
                open_link=container.playback_links().open,
            ),
            DefineMiddleware(
                JsonBodyMiddleware,
                max_bytes=settings.max_json_bytes,
                timeout_seconds=settings.body_timeout_seconds,
            ),
        ],
        openapi_config=OpenAPIConfig(
            title="lucid-sessions",
            version=__version__,
            path=SCHEMA_PATH,
            render_plugins=docs_render_plugins(SCHEMA_PATH),
            operation_id_creator=lambda handler, _method, _path: handler.handler_name,
        ),
        lifespan=[_lifespan(container)],
        request_class=JsonBodyRequest,
        logging_config=None,
        debug=False,
    )
    app.state.container = container
    return app
