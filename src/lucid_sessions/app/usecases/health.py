"""Health of the service's dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.health_probe import HealthProbe

__all__ = ["CheckHealth", "HealthReport"]

Check = Literal["ok", "down", "disabled"]


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Literal["healthy", "degraded", "unhealthy"]
    checks: dict[str, Check]
    timestamp: datetime
    warnings: tuple[str, ...] = ()


class CheckHealth:
    """database and storage are vital (unhealthy when down); the cache is optional (degraded).
    `warnings` are standing facts an operator must see (authentication switched off)."""

    def __init__(
        self,
        clock: Clock,
        database: HealthProbe,
        storage: HealthProbe,
        cache: HealthProbe | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self._clock, self._database, self._storage, self._cache = clock, database, storage, cache
        self._warnings = warnings

    async def __call__(self) -> HealthReport:
        database: Check = "ok" if await self._database.ping() else "down"
        storage: Check = "ok" if await self._storage.ping() else "down"
        cache: Check = "disabled"
        if self._cache is not None:
            cache = "ok" if await self._cache.ping() else "down"
        status: Literal["healthy", "degraded", "unhealthy"] = "healthy"
        if "down" in (database, storage):
            status = "unhealthy"
        elif cache == "down":
            status = "degraded"
        checks: dict[str, Check] = {"database": database, "cache": cache, "storage": storage}
        return HealthReport(status, checks, self._clock.now(), self._warnings)
