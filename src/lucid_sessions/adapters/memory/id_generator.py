"""SequentialIdGenerator: predictable ids for tests."""

from __future__ import annotations

from lucid_sessions.domain.ports.id_generator import IdGenerator

__all__ = ["SequentialIdGenerator"]


class SequentialIdGenerator(IdGenerator):
    def __init__(self, prefix: str = "sess-test-") -> None:
        self._prefix = prefix
        self._next = 0

    def new_session_id(self) -> str:
        self._next += 1
        return f"{self._prefix}{self._next:06d}"
