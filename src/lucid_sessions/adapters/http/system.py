"""Service routes: root, health, metrics, system statistics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from lucid_sessions import __version__
from lucid_sessions.adapters.http.auth import METRICS, PUBLIC, current_principal
from lucid_sessions.adapters.http.errors import documented
from lucid_sessions.adapters.http.openapi import METRICS_ERRORS
from lucid_sessions.adapters.telemetry.prometheus import CONTENT_TYPE_LATEST, PrometheusTelemetry
from lucid_sessions.app.usecases.health import CheckHealth
from lucid_sessions.app.usecases.statistics import ReadStatistics, RefreshFigures
from lucid_sessions.domain.errors import StorageUnavailable, Unauthenticated

__all__ = ["HealthResponse", "SystemController", "SystemStatisticsResponse"]

SERVICE = "session-api"


class HealthResponse(msgspec.Struct, kw_only=True):
    status: str
    service: str
    version: str
    timestamp: str
    checks: dict[str, str]
    warnings: list[str]


UNHEALTHY = {
    503: ResponseSpec(
        data_container=HealthResponse,
        description="unhealthy: the database, the storage or the signing key is down",
    )
}


def _metrics_route(
    handler: Callable[..., Awaitable[Response[bytes]]], path: str, operation_id: str, summary: str
) -> HTTPRouteHandler:
    """A route to the metrics `handler` at `path`: every such route has the same access."""
    return get(
        path,
        operation_id=operation_id,
        summary=summary,
        media_type=CONTENT_TYPE_LATEST,
        opt=METRICS,
        raises=METRICS_ERRORS,
    )(handler)


class StorageFigures(msgspec.Struct, kw_only=True):
    free_bytes: int
    used_bytes: int


class SystemStatisticsResponse(msgspec.Struct, kw_only=True):
    sessions_total: int
    sessions_by_status: dict[str, int]
    chunks_total: int
    size_bytes_total: int
    stored_bytes_total: int
    compression_ratio: float | None
    storage: StorageFigures | None
    """The host's disk (admins only; null for a user)."""


class SystemController(Controller):
    path = "/"
    tags = ["service"]

    @get("/", summary="Service name, version and links", media_type=MediaType.JSON, opt=PUBLIC)
    async def service_root(self) -> dict[str, Any]:
        return {
            "service": "lucid-session-api",
            "version": __version__,
            "links": {
                "sessions": "/api/v1/sessions",
                "health": "/health",
                "metrics": "/metrics",
                "openapi": "/schema/openapi.json",
                "docs": "/schema",
            },
        }

    # One handler each for health and for metrics, served at two paths: each route declares
    # its own path, access, summary and operation id (for other routes, the method's name).

    async def _health(self, check_health: NamedDependency[CheckHealth]) -> Response[HealthResponse]:
        """The health report; 503 when unhealthy."""
        report = await check_health()
        body = HealthResponse(
            status=report.status,
            service=SERVICE,
            version=__version__,
            timestamp=report.timestamp.isoformat().replace("+00:00", "Z"),
            checks=dict(report.checks),
            warnings=list(report.warnings),
        )
        return Response(body, status_code=503 if report.status == "unhealthy" else 200)

    get_health = get(
        "/health",
        operation_id="get_health",
        summary="Health of the service and its dependencies (no token)",
        opt=PUBLIC,
        responses=UNHEALTHY,
    )(_health)
    get_sessions_health = get(
        "/api/v1/sessions/health",
        operation_id="get_sessions_health",
        summary="Health of the service and its dependencies",
        raises=documented(Unauthenticated),
        responses=UNHEALTHY,
    )(_health)

    async def _metrics(
        self,
        telemetry: NamedDependency[PrometheusTelemetry],
        refresh_figures: NamedDependency[RefreshFigures],
    ) -> Response[bytes]:
        """The Prometheus exposition, its figures refreshed first."""
        await refresh_figures()
        # Litestar would append a second charset to a text/ media type: set the header itself.
        return Response(telemetry.render(), headers={"content-type": CONTENT_TYPE_LATEST})

    get_metrics = _metrics_route(
        _metrics,
        "/metrics",
        "get_metrics",
        "Prometheus metrics of the whole service (admins, or anyone when configured)",
    )
    get_sessions_metrics = _metrics_route(
        _metrics,
        "/api/v1/sessions/metrics",
        "get_sessions_metrics",
        "The same metrics, under the sessions path the gateway forwards",
    )

    @get(
        "/api/v1/sessions/statistics",
        summary="Statistics of every session the caller may see",
        raises=documented(Unauthenticated, StorageUnavailable),
    )
    async def system_statistics_report(
        self,
        read_statistics: NamedDependency[ReadStatistics],
        request: Request[Any, Any, Any],
    ) -> SystemStatisticsResponse:
        principal = current_principal(request)
        report = await read_statistics(principal)
        return SystemStatisticsResponse(
            sessions_total=report.summary.sessions_total,
            sessions_by_status=report.sessions_by_status,
            chunks_total=report.summary.chunks_total,
            size_bytes_total=report.summary.size_bytes_total,
            stored_bytes_total=report.summary.stored_bytes_total,
            compression_ratio=report.compression_ratio,
            storage=None
            if report.storage is None
            else StorageFigures(
                free_bytes=report.storage.free_bytes, used_bytes=report.storage.used_bytes
            ),
        )
