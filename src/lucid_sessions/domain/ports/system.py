"""Ports for time and identifiers: the domain never reads a clock or a random source."""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "IdGenerator"]


class Clock(Protocol):
    @abc.abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class IdGenerator(Protocol):
    @abc.abstractmethod
    def new_session_id(self) -> str:
        """A fresh id matching ^[A-Za-z0-9_-]{1,64}$ (sess- + ULID)."""
