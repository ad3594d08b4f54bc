"""Claims: named leases taken by this process, so that one session's uploads, or its
finalization, run in one place at a time across every replica sharing the stores.

A claim waits (polling with a short backoff) while another process holds the lease, and
gives up with StorageUnavailable (503 with Retry-After) after `wait_seconds`. A lease lasts
`ttl_seconds` from when it was taken: a process that dies holding one delays the work by at
most that long, and `wait_seconds` is longer, so a request that arrives at another replica
right after such a death is served within its own wait.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio

from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.leases import Leases

__all__ = ["Claims"]


class Claims:
    def __init__(
        self,
        leases: Leases,
        clock: Clock,
        owner: str,
        *,
        ttl_seconds: float = 20.0,
        wait_seconds: float | None = None,
    ) -> None:
        """`wait_seconds` defaults to `ttl_seconds` + 5: a lease its holder died with is
        taken over within one wait."""
        self._leases, self._clock, self.owner = leases, clock, owner
        self.ttl_seconds = ttl_seconds
        self._ttl = timedelta(seconds=ttl_seconds)
        self._wait = ttl_seconds + 5 if wait_seconds is None else wait_seconds

    async def take(self, name: str) -> bool:
        """One attempt (which also extends, by the lease's length, a lease this process
        holds)."""
        now = self._clock.now()
        return await self._leases.acquire(name, self.owner, now, now + self._ttl)

    async def release(self, name: str) -> None:
        with anyio.CancelScope(shield=True):
            await self._leases.release(name, self.owner)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold `name` for the block: wait for it, release it after."""
        deadline = time.monotonic() + self._wait
        pause = 0.005
        while not await self.take(name):
            if time.monotonic() >= deadline:
                raise StorageUnavailable(
                    f"{name.split(':', 1)[0]} of this session is in progress elsewhere; retry",
                    retry_after_seconds=1,
                )
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.2)
        try:
            yield
        finally:
            await self.release(name)
