"""Port: fresh identifiers; the domain never reads a random source."""

from __future__ import annotations

import abc
from typing import Protocol

__all__ = ["IdGenerator"]


class IdGenerator(Protocol):
    @abc.abstractmethod
    def new_session_id(self) -> str:
        """A fresh id matching ^[A-Za-z0-9_-]{1,64}$ (sess- + ULID); ids made later sort
        after ids made earlier."""
