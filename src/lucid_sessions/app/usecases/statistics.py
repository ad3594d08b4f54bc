"""System-wide statistics, computed in the store."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import SessionRepository, SessionSummary
from lucid_sessions.domain.ports.telemetry import ServiceFigures, Telemetry
from lucid_sessions.domain.ports.usage_probe import StorageUsage, UsageProbe
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import VISIBLE_STATUSES

__all__ = ["ReadStatistics", "RefreshFigures", "SystemStatisticsReport"]


@dataclass(frozen=True, slots=True)
class SystemStatisticsReport:
    summary: SessionSummary
    storage: StorageUsage | None
    """The host's disk: admins only (None for a user, whose figures cover its own sessions)."""

    @property
    def sessions_by_status(self) -> dict[str, int]:
        counts = self.summary.sessions_by_status
        return {status.value: counts.get(status.value, 0) for status in VISIBLE_STATUSES}

    @property
    def compression_ratio(self) -> float | None:
        if self.summary.stored_bytes_total == 0:
            return None
        return self.summary.size_bytes_total / self.summary.stored_bytes_total


class ReadStatistics:
    def __init__(self, repo: SessionRepository, usage: UsageProbe) -> None:
        self._repo, self._usage = repo, usage

    async def __call__(self, principal: Principal) -> SystemStatisticsReport:
        if principal.is_admin:
            return await self.whole_service()
        return SystemStatisticsReport(await self._repo.summarize(principal.owner_scope()), None)

    async def whole_service(self) -> SystemStatisticsReport:
        return SystemStatisticsReport(await self._repo.summarize(None), await self._usage.usage())


class RefreshFigures:
    """Reads the service's levels from the stores (sessions by status, stored bytes, free
    space, the session log's size and anchored size) and hands them to the telemetry, so
    every process reports the same levels whichever did the work."""

    def __init__(self, statistics: ReadStatistics, log: SessionLog, telemetry: Telemetry) -> None:
        self._statistics, self._log, self._telemetry = statistics, log, telemetry

    async def __call__(self) -> ServiceFigures:
        report = await self._statistics.whole_service()
        figures = ServiceFigures(
            sessions_by_status=report.sessions_by_status,
            stored_bytes=report.summary.stored_bytes_total,
            storage_free_bytes=report.storage.free_bytes if report.storage else 0,
            log_size=await self._log.size(),
            log_anchored_size=await self._log.anchored_size(),
        )
        self._telemetry.figures(figures)
        return figures
