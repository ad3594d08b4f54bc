"""Port: each session's data key, stored only wrapped by a master key."""

from __future__ import annotations

import abc
from typing import Protocol

from lucid_sessions.domain.ports.keyring import WrappedKey

__all__ = ["DataKeyStore"]


class DataKeyStore(Protocol):
    """Each session's data key, stored only wrapped by a master key."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> WrappedKey | None: ...

    @abc.abstractmethod
    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        """Store `key` unless one exists; return the key that is stored (race-safe)."""

    @abc.abstractmethod
    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        """Compare-and-swap (key rotation): True when `old` was stored and is now `new`."""

    @abc.abstractmethod
    async def all(self) -> list[tuple[str, WrappedKey]]: ...

    @abc.abstractmethod
    async def delete(self, session_id: str) -> None: ...
