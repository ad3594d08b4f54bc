"""InMemorySessionLog: the fake of the session log."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.session_log import LogEntry

__all__ = ["InMemorySessionLog"]


class InMemorySessionLog(SessionLog):
    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._by_event: dict[tuple[str, str], LogEntry] = {}
        self._anchored = 0

    async def append(self, entry: LogEntry) -> LogEntry:
        await checkpoint()
        existing = self._by_event.get((entry.session_id, entry.type.value))
        if existing is not None:
            return existing
        stored = entry.at_index(len(self._entries))
        self._entries.append(stored)
        self._by_event[(entry.session_id, entry.type.value)] = stored
        return stored

    async def size(self) -> int:
        await checkpoint()
        return len(self._entries)

    async def entries(self, start: int, end: int) -> list[LogEntry]:
        await checkpoint()
        return self._entries[max(start, 0) : max(end, 0)]

    async def anchored_size(self) -> int:
        await checkpoint()
        return self._anchored

    async def record_anchored(self, size: int) -> None:
        await checkpoint()
        self._anchored = max(self._anchored, size)
