"""Port: the time; the domain never reads a clock."""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    @abc.abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC, to the millisecond (what every store keeps)."""
