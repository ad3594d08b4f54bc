"""Ports for health checks and storage usage."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol

__all__ = ["HealthProbe", "StorageUsage", "UsageProbe"]


class HealthProbe(Protocol):
    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the dependency answers; never raises."""


@dataclass(frozen=True, slots=True)
class StorageUsage:
    free_bytes: int
    used_bytes: int


class UsageProbe(Protocol):
    @abc.abstractmethod
    async def usage(self) -> StorageUsage:
        """Free and used bytes of the storage that holds recordings."""
