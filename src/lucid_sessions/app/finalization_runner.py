"""Background work: finalization of stopped sessions, resumed after a restart."""

from __future__ import annotations

import logging
import math

import anyio
from anyio.abc import TaskGroup, TaskStatus

from lucid_sessions.app.claims import Claims
from lucid_sessions.app.usecases.finalize import FinalizeSession
from lucid_sessions.domain.errors import DomainError, NotFound, PipelinePaused
from lucid_sessions.domain.ports.session_repository import SessionQuery, SessionRepository
from lucid_sessions.domain.session import SessionStatus

__all__ = ["FinalizationRunner"]

_log = logging.getLogger("lucid_sessions.finalization")


class FinalizationRunner:
    """Runs FinalizeSession for every stopped session, one at a time.

    At start, and then every third of a lease's length, it finds sessions left `stopped` or
    `processing` (a crash or restart, here or in another replica) and finishes them. A
    session is finalized only under its lease `finalize:<id>` (renewed while the work goes
    on): replicas sharing the stores never finalize one session at once, and a replica that
    dies mid-finalization is taken over once its lease expires. A session whose
    pipeline is paused waits until `schedule` is called again (by pipeline resume). Transient
    failures are retried after `retry_seconds`.
    """

    def __init__(
        self,
        finalize: FinalizeSession,
        repo: SessionRepository,
        claims: Claims,
        retry_seconds: float = 2.0,
    ) -> None:
        self._finalize, self._repo, self._retry = finalize, repo, retry_seconds
        self._claims = claims
        self._every = claims.ttl_seconds / 3  # the sweep's period and the lease's renewal
        self._send, self._receive = anyio.create_memory_object_stream[str](math.inf)
        self._pending: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._max_attempts = 8
        self._retries: TaskGroup | None = None

    def schedule(self, session_id: str) -> None:
        if session_id not in self._pending:
            self._pending.add(session_id)
            self._send.send_nowait(session_id)

    async def _recover(self) -> None:
        for status in (SessionStatus.PROCESSING, SessionStatus.STOPPED):
            offset = 0
            while True:
                page = await self._repo.list(SessionQuery(status=status, limit=500, offset=offset))
                for session in page.sessions:
                    if not session.pipeline_paused:
                        self.schedule(session.session_id)
                offset += len(page.sessions)
                if not page.sessions or offset >= page.total:
                    break

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as retries:
            self._retries = retries
            await self._recover()
            task_status.started()
            retries.start_soon(self._sweep)
            await self._serve()

    async def _sweep(self) -> None:
        """Sessions another replica stopped, or left behind when it died."""
        while True:
            await anyio.sleep(self._every)
            try:
                await self._recover()
            except DomainError as exc:
                _log.warning("finalization_sweep_failed", extra={"error": exc.detail})

    async def _serve(self) -> None:
        async for session_id in self._receive:
            self._pending.discard(session_id)
            name = f"finalize:{session_id}"
            try:
                taken = await self._claims.take(name)
            except DomainError as exc:
                _log.warning(
                    "finalization_retry", extra={"session_id": session_id, "error": exc.detail}
                )
                await self._retry_later(session_id)
                continue
            if not taken:  # another replica is at it; the sweep looks again later
                _log.debug("finalization_elsewhere", extra={"session_id": session_id})
                continue
            async with anyio.create_task_group() as renewal:
                renewal.start_soon(self._renew, name)
                try:
                    await self._run_one(session_id)
                finally:
                    renewal.cancel_scope.cancel()
                    await self._claims.release(name)

    async def _renew(self, name: str) -> None:
        while True:
            await anyio.sleep(self._every)
            try:
                await self._claims.take(name)
            except DomainError as exc:
                _log.warning("finalization_lease_not_renewed", extra={"error": exc.detail})

    async def _run_one(self, session_id: str) -> None:
        try:
            outcome = await self._finalize(session_id)
            _log.info("finalized", extra={"session_id": session_id, "status": outcome.value})
        except PipelinePaused:
            _log.info("finalization_held", extra={"session_id": session_id})
        except NotFound:
            _log.info("finalization_dropped", extra={"session_id": session_id, "reason": "deleted"})
        except DomainError as exc:
            _log.warning(
                "finalization_retry", extra={"session_id": session_id, "error": exc.detail}
            )
            await self._retry_later(session_id)
        except Exception:  # one session's bug must never stop the runner or the service
            _log.exception("finalization_error", extra={"session_id": session_id})
            await self._retry_later(session_id)

    async def _retry_later(self, session_id: str) -> None:
        attempts = self._attempts.get(session_id, 0) + 1
        self._attempts[session_id] = attempts
        if attempts > self._max_attempts:
            _log.error(
                "finalization_gave_up", extra={"session_id": session_id, "attempts": attempts - 1}
            )
            return
        delay = min(self._retry * 2 ** (attempts - 1), 300.0)

        async def later() -> None:
            await anyio.sleep(delay)
            self.schedule(session_id)

        assert self._retries is not None
        self._retries.start_soon(later)
