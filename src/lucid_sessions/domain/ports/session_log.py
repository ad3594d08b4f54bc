"""Port: the service-wide session log (append-only, one entry per event of a session)."""

from __future__ import annotations

import abc
from typing import Protocol

from lucid_sessions.domain.session_log import LogEntry

__all__ = ["SessionLog"]


class SessionLog(Protocol):
    """Entries numbered 0, 1, 2... with no gap, never changed or removed.

    - `append` gives the entry the next index and stores it, unless the log already holds an
      entry of the same type for the same session: then it returns that one (so a retried
      append never writes twice). Concurrent appends from several processes get distinct,
      gap-free indexes.
    - `entries(start, end)` returns indexes start..end-1 that exist, in order.
    - `anchored_size` / `record_anchored` keep how much of the log has been anchored
      (published to the blockchain engine); it only ever grows.
    - An unreachable store raises StorageUnavailable.
    """

    @abc.abstractmethod
    async def append(self, entry: LogEntry) -> LogEntry: ...

    @abc.abstractmethod
    async def size(self) -> int: ...

    @abc.abstractmethod
    async def entries(self, start: int, end: int) -> list[LogEntry]: ...

    @abc.abstractmethod
    async def anchored_size(self) -> int: ...

    @abc.abstractmethod
    async def record_anchored(self, size: int) -> None: ...
