"""InMemoryDataKeyStore: the fake of the data key store."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey

__all__ = ["InMemoryDataKeyStore"]


class InMemoryDataKeyStore(DataKeyStore):
    def __init__(self) -> None:
        self._keys: dict[str, WrappedKey] = {}

    async def get(self, session_id: str) -> WrappedKey | None:
        await checkpoint()
        return self._keys.get(session_id)

    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        await checkpoint()
        return self._keys.setdefault(session_id, key)

    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        await checkpoint()
        if self._keys.get(session_id) != old:
            return False
        self._keys[session_id] = new
        return True

    async def all(self) -> list[tuple[str, WrappedKey]]:
        await checkpoint()
        return sorted(self._keys.items())

    async def delete(self, session_id: str) -> None:
        await checkpoint()
        self._keys.pop(session_id, None)
