"""Port: does a dependency (database, cache, storage) answer?"""

from __future__ import annotations

import abc
from typing import Protocol

__all__ = ["HealthProbe"]


class HealthProbe(Protocol):
    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the dependency answers; never raises, and returns within a few seconds."""
