"""LocalLeases: leases inside one process (the embedded store serves one process)."""

from __future__ import annotations

from datetime import datetime

from lucid_sessions.domain.ports.leases import Leases

__all__ = ["LocalLeases"]


class LocalLeases(Leases):
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, datetime]] = {}

    async def acquire(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        held = self._held.get(name)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._held[name] = (owner, until)
        return True

    async def release(self, name: str, owner: str) -> None:
        held = self._held.get(name)
        if held is not None and held[0] == owner:
            del self._held[name]
