"""Background work that runs every so often, sooner when poked, and backs off on failure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus

__all__ = ["PeriodicJob"]

_log = logging.getLogger("lucid_sessions.jobs")


class PeriodicJob:
    """Runs `work` at start, then every `interval` seconds or as soon as `poke()` is called.

    A failing run is retried after 1, 2, 4... seconds (at most `interval`); the first failure
    of a streak and the recovery are logged once each. Cancellation (shutdown) stops it
    between runs or inside `work`, which must therefore be safe to interrupt.
    """

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval: float) -> None:
        self._name, self._work, self._interval = name, work, interval
        self._poked = anyio.Event()
        self.failures = 0

    def poke(self) -> None:
        self._poked.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        delay = 0.0
        while True:
            with anyio.move_on_after(delay):
                await self._poked.wait()
            self._poked = anyio.Event()
            delay = await self._run_once()

    async def _run_once(self) -> float:
        try:
            await self._work()
        except Exception as exc:  # one failed run must never stop the job or the service
            self.failures += 1
            if self.failures == 1:
                detail = getattr(exc, "detail", None) or type(exc).__name__
                _log.warning("job_failing", extra={"job": self._name, "error": detail})
            return float(min(self._interval, 2 ** (self.failures - 1)))
        if self.failures:
            _log.info("job_recovered", extra={"job": self._name, "failures": self.failures})
            self.failures = 0
        return self._interval
