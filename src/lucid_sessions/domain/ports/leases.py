"""Port: named leases, so that work on one thing runs in one place at a time across every
process that shares the stores (replicas behind the gateway).

A lease is held by an `owner` (one per process) until an instant; after that instant anyone
may take it, so a process that dies while holding one delays the work by at most the lease's
length and never blocks it. Instants come from the callers' clocks: replicas must keep their
clocks close (NTP), well within a lease's length.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Protocol

__all__ = ["Leases"]


class Leases(Protocol):
    @abc.abstractmethod
    async def acquire(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take `name` for `owner` until `until` when it is free, expired at `now`, or
        already `owner`'s (which extends it); False when another owner holds it. Atomic: of
        any number of racing callers at most one gets a lease that is not theirs."""

    @abc.abstractmethod
    async def release(self, name: str, owner: str) -> None:
        """Free `name` if `owner` holds it; otherwise nothing changes."""
