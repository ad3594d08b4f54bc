"""Port: master keys by id, which create, unwrap and re-wrap session data keys."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol

__all__ = ["KeyRing", "WrappedKey"]


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A session data key encrypted ("wrapped") by the master key named `key_id`."""

    key_id: str
    wrapped: bytes


class KeyRing(Protocol):
    """Master keys by id; creates, unwraps and re-wraps session data keys."""

    @property
    @abc.abstractmethod
    def current_key_id(self) -> str:
        """Id of the master key that wraps new data keys."""

    @abc.abstractmethod
    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        """A random 32-byte data key, and the same key wrapped under the current master key."""

    @abc.abstractmethod
    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """The plaintext data key; `IntegrityError` for an unknown key id or tampered bytes."""

    @abc.abstractmethod
    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key wrapped under the current master key (for key rotation)."""
