"""System-wide statistics, computed in the store."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_sessions.domain.ports.session_repository import SessionRepository, SessionSummary
from lucid_sessions.domain.ports.usage_probe import StorageUsage, UsageProbe
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import SessionStatus

__all__ = ["SystemStatistics", "SystemStatisticsReport"]


@dataclass(frozen=True, slots=True)
class SystemStatisticsReport:
    summary: SessionSummary
    storage: StorageUsage

    @property
    def sessions_by_status(self) -> dict[str, int]:
        counts = self.summary.sessions_by_status
        return {status.value: counts.get(status.value, 0) for status in SessionStatus}

    @property
    def compression_ratio(self) -> float | None:
        if self.summary.stored_bytes_total == 0:
            return None
        return self.summary.size_bytes_total / self.summary.stored_bytes_total


class SystemStatistics:
    def __init__(self, repo: SessionRepository, usage: UsageProbe) -> None:
        self._repo, self._usage = repo, usage

    async def __call__(self, principal: Principal) -> SystemStatisticsReport:
        summary = await self._repo.summarize(principal.owner_scope())
        return SystemStatisticsReport(summary, await self._usage.usage())
