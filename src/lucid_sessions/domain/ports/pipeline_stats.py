"""Port: measured figures per session and pipeline stage, recorded where the work happens."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol

__all__ = ["PipelineStats", "StageFigures"]


@dataclass(frozen=True, slots=True)
class StageFigures:
    processed: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    last_error: str | None = None

    def plus(self, more: StageFigures) -> StageFigures:
        """These figures with `more` added (`last_error` replaced when `more` has one)."""
        return StageFigures(
            processed=self.processed + more.processed,
            failed=self.failed + more.failed,
            bytes_in=self.bytes_in + more.bytes_in,
            bytes_out=self.bytes_out + more.bytes_out,
            seconds=self.seconds + more.seconds,
            last_error=more.last_error if more.last_error is not None else self.last_error,
        )


class PipelineStats(Protocol):
    """Measured figures per session and pipeline stage, recorded where the work happens."""

    @abc.abstractmethod
    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        """Add each stage's figures to the stored totals (last_error replaces when given)."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> dict[str, StageFigures]: ...

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None: ...
