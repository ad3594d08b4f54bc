"""Port: how much room the storage that holds recordings has."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol

__all__ = ["StorageUsage", "UsageProbe"]


@dataclass(frozen=True, slots=True)
class StorageUsage:
    free_bytes: int
    used_bytes: int


class UsageProbe(Protocol):
    @abc.abstractmethod
    async def usage(self) -> StorageUsage:
        """Free and used bytes of the storage that holds recordings."""
