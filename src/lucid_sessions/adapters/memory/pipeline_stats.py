"""InMemoryPipelineStats: the fake of the pipeline figures."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = ["InMemoryPipelineStats"]


class InMemoryPipelineStats(PipelineStats):
    def __init__(self) -> None:
        self._figures: dict[str, dict[str, StageFigures]] = {}

    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        await checkpoint()
        stored = self._figures.setdefault(session_id, {})
        for stage, more in figures.items():
            stored[stage] = stored.get(stage, StageFigures()).plus(more)

    async def get(self, session_id: str) -> dict[str, StageFigures]:
        await checkpoint()
        return dict(self._figures.get(session_id, {}))

    async def delete_session(self, session_id: str) -> None:
        await checkpoint()
        self._figures.pop(session_id, None)
