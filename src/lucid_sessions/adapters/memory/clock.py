"""FrozenClock: a clock that moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lucid_sessions.domain.instants import instant
from lucid_sessions.domain.ports.clock import Clock

__all__ = ["FrozenClock"]


class FrozenClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return instant(self._now)

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self.now()
