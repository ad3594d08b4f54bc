"""Retention: delete every session whose `stopped_at + retention_days` has passed, never one
under legal hold, and finish deletions that a crash left half-done.

Safe when two processes sweep at once (each deletion is claimed in the store: one claimer
wins, the other skips) and when interrupted (a claimed deletion older than the lease is
taken over and finished by the next sweep).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from lucid_sessions.app.usecases.common import mutate
from lucid_sessions.app.usecases.delete_session import SessionDeleter
from lucid_sessions.domain.errors import ConcurrencyError, DomainError, NotFound
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.session_repository import SessionQuery, SessionRepository
from lucid_sessions.domain.ports.telemetry import Telemetry
from lucid_sessions.domain.principal import SYSTEM
from lucid_sessions.domain.session import Session, SessionStatus
from lucid_sessions.domain.session_log import DeletionReason

__all__ = ["SweepOutcome", "SweepRetention", "Swept"]

_log = logging.getLogger("lucid_sessions.retention")
_PAGE = 100


class SweepOutcome:
    DELETED = "deleted"
    WOULD_DELETE = "would_delete"
    RESUMED = "resumed"
    SKIPPED = "skipped"
    ALL = (DELETED, WOULD_DELETE, RESUMED, SKIPPED)


@dataclass(frozen=True, slots=True)
class Swept:
    session_id: str
    outcome: str
    expired_at: datetime | None
    detail: str = ""


class SweepRetention:
    def __init__(
        self,
        repo: SessionRepository,
        deleter: SessionDeleter,
        clock: Clock,
        telemetry: Telemetry,
        lease_seconds: float = 600.0,
    ) -> None:
        self._repo, self._deleter, self._clock = repo, deleter, clock
        self._telemetry = telemetry
        self._lease = timedelta(seconds=lease_seconds)

    async def __call__(
        self, as_of: datetime | None = None, *, dry_run: bool = False
    ) -> list[Swept]:
        """Sweep as if it were `as_of` (default: now); `dry_run` deletes nothing."""
        moment = as_of or self._clock.now()
        swept: list[Swept] = []
        if not dry_run:
            swept += await self._resume_stale()
        for session_id, expires_at in await self._expired(moment):
            if dry_run:
                swept.append(Swept(session_id, SweepOutcome.WOULD_DELETE, expires_at))
            else:
                swept.append(await self._delete(session_id, moment))
        for item in swept:
            self._telemetry.retention_swept(item.outcome)
        if swept:
            _log.info(
                "retention_swept",
                extra={
                    "as_of": moment.isoformat(),
                    "dry_run": dry_run,
                    **{o: sum(i.outcome == o for i in swept) for o in SweepOutcome.ALL},
                },
            )
        return swept

    async def _expired(self, moment: datetime) -> list[tuple[str, datetime | None]]:
        found: list[tuple[str, datetime | None]] = []
        while True:
            query = SessionQuery(expires_before=moment, limit=_PAGE, offset=len(found))
            page = (await self._repo.list(query)).sessions
            found += [(s.session_id, s.expires_at) for s in page]
            if len(page) < _PAGE:
                return found

    async def _delete(self, session_id: str, moment: datetime) -> Swept:
        expired: datetime | None = None

        def still_expired(session: Session) -> None:
            nonlocal expired
            expired = session.expires_at
            if expired is None or expired >= moment:
                raise _NotExpired

        try:
            claimed = await self._deleter.claim(
                SYSTEM, session_id, DeletionReason.RETENTION, force=False, check=still_expired
            )
            await self._deleter.finish(claimed)
        except _NotExpired:
            return Swept(session_id, SweepOutcome.SKIPPED, expired, "no longer expired")
        except NotFound:
            return Swept(session_id, SweepOutcome.SKIPPED, expired, "already deleted")
        except (ConcurrencyError, DomainError) as exc:
            _log.info("retention_skipped", extra={"session_id": session_id, "error": exc.detail})
            return Swept(session_id, SweepOutcome.SKIPPED, expired, exc.detail)
        _log.info("retention_deleted", extra={"session_id": session_id})
        return Swept(session_id, SweepOutcome.DELETED, expired)

    async def _resume_stale(self) -> list[Swept]:
        """Finish the deletions whose claim is older than the lease (a process died)."""
        cutoff = self._clock.now() - self._lease
        resumed: list[Swept] = []
        query = SessionQuery(status=SessionStatus.DELETING, limit=_PAGE)
        for session in (await self._repo.list(query)).sessions:
            deletion = session.deletion
            if deletion is None or deletion.claimed_at > cutoff:
                continue

            def take_over(claimed: Session) -> None:
                claimed.reclaim_deletion(self._clock.now())

            try:
                fresh, _ = await mutate(
                    self._repo, SYSTEM, session.session_id, take_over, deleting=True
                )
                await self._deleter.finish(fresh)
            except (ConcurrencyError, NotFound, DomainError):
                continue  # another process took it over, or finished it
            resumed.append(Swept(session.session_id, SweepOutcome.RESUMED, None, deletion.reason))
        return resumed


class _NotExpired(Exception):
    """The session changed since the sweep read it (retention raised, legal hold placed)."""
