"""The per-session processing pipeline: status with measured figures, pause and resume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lucid_sessions.app.usecases.common import load_visible, mutate
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session, SessionStatus

__all__ = ["INGEST_STAGES", "STAGES", "ControlPipeline", "PipelineView"]

INGEST_STAGES = ("compression", "encryption", "merkle_building", "storage")
STAGES = (*INGEST_STAGES, "finalization")
_FINALIZING_OR_DONE = frozenset(
    {SessionStatus.STOPPED, SessionStatus.PROCESSING, SessionStatus.COMPLETED, SessionStatus.FAILED}
)


@dataclass(frozen=True, slots=True)
class PipelineView:
    session: Session
    figures: dict[str, StageFigures]
    as_of: datetime

    def figure(self, stage: str) -> StageFigures:
        return self.figures.get(stage, StageFigures())

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this session has: the ingest stages, and `finalization` once it has
        stopped (the contract lists it after stop)."""
        return STAGES if self.session.status in _FINALIZING_OR_DONE else INGEST_STAGES

    @property
    def ingest_seconds(self) -> float:
        """Time spent in the ingest stages (what throughput figures divide by)."""
        return sum(self.figure(stage).seconds for stage in INGEST_STAGES)

    @property
    def bytes_in(self) -> int:
        """Original bytes that entered the pipeline."""
        return self.figure("compression").bytes_in

    @property
    def bytes_out(self) -> int:
        """Bytes it stored (compressed, sealed, with headers)."""
        return self.figure("storage").bytes_out

    @property
    def compression_ratio(self) -> float | None:
        """bytes_in / bytes_out: the same figure as the session's statistics report."""
        return self.bytes_in / self.bytes_out if self.bytes_out else None

    @property
    def throughput_bytes_per_second(self) -> float | None:
        busy = self.ingest_seconds
        return self.bytes_in / busy if busy > 0 else None

    @property
    def pipeline_status(self) -> str:
        s = self.session
        if s.status is SessionStatus.FAILED:
            return "error"
        if s.pipeline_paused:
            return "paused"
        if s.status is SessionStatus.CREATED:
            return "inactive"
        if s.status is SessionStatus.COMPLETED:
            return "stopped"
        return "active"

    def stage_status(self, stage: str) -> str:
        s, figures = self.session, self.figure(stage)
        if stage == "finalization":
            if s.status is SessionStatus.COMPLETED:
                return "completed"
            if s.status is SessionStatus.FAILED:
                return "error"
            if s.status in (SessionStatus.STOPPED, SessionStatus.PROCESSING):
                return "paused" if s.pipeline_paused else "active"
            return "inactive"
        if s.status in (SessionStatus.RECORDING, SessionStatus.PAUSED):
            return "paused" if s.pipeline_paused else "active"
        if figures.failed and figures.last_error:
            return "error"
        return "completed" if figures.processed else "inactive"


class ControlPipeline:
    def __init__(
        self,
        repo: SessionRepository,
        stats: PipelineStats,
        clock: Clock,
        on_resume: Callable[[str], None] | None = None,
    ) -> None:
        self._repo, self._stats, self._clock, self._on_resume = repo, stats, clock, on_resume

    async def status(self, principal: Principal, session_id: str) -> PipelineView:
        session = await load_visible(self._repo, principal, session_id)
        return await self._view(session)

    async def set_paused(self, principal: Principal, session_id: str, paused: bool) -> PipelineView:
        def apply(session: Session) -> None:
            session.set_pipeline_paused(paused, self._clock.now())

        session, _ = await mutate(self._repo, principal, session_id, apply)
        if not paused and self._on_resume is not None:
            self._on_resume(session.session_id)
        return await self._view(session)

    async def _view(self, session: Session) -> PipelineView:
        figures = await self._stats.get(session.session_id)
        return PipelineView(session, figures, self._clock.now())
