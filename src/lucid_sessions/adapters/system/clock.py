"""SystemClock: the real clock, to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime

from lucid_sessions.domain.instants import instant
from lucid_sessions.domain.ports.clock import Clock

__all__ = ["SystemClock"]


class SystemClock(Clock):
    def now(self) -> datetime:
        return instant(datetime.now(UTC))
