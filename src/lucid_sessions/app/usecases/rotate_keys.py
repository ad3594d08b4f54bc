"""Re-wrap every session data key under the current master key (no blob is rewritten)."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import KeyRing

__all__ = ["RewrapDataKeys", "RewrapReport"]


@dataclass(frozen=True, slots=True)
class RewrapReport:
    current_key_id: str
    rewrapped: int
    already_current: int
    raced: int


class RewrapDataKeys:
    def __init__(self, keys: DataKeyStore, keyring: KeyRing) -> None:
        self._keys, self._keyring = keys, keyring

    async def __call__(self) -> RewrapReport:
        current = self._keyring.current_key_id
        rewrapped = already = raced = 0
        for session_id, wrapped in await self._keys.all():
            if wrapped.key_id == current:
                already += 1
                continue
            fresh = self._keyring.rewrap(wrapped)
            if await self._keys.replace(session_id, wrapped, fresh):
                rewrapped += 1
            else:  # deleted or changed meanwhile; nothing to do
                raced += 1
        return RewrapReport(current, rewrapped, already, raced)
