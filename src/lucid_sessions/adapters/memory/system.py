"""A clock that moves only when told to, and predictable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.id_generator import IdGenerator

__all__ = ["FrozenClock", "SequentialIdGenerator"]


class FrozenClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class SequentialIdGenerator(IdGenerator):
    def __init__(self, prefix: str = "sess-test-") -> None:
        self._prefix = prefix
        self._next = 0

    def new_session_id(self) -> str:
        self._next += 1
        return f"{self._prefix}{self._next:06d}"
