"""Delete a session and everything stored for it, leaving one `deleted` entry in the log.

A deletion has two steps, each safe to repeat:

1. **Claim** (`SessionDeleter.claim`): a conditional save moves the session to DELETING with
   who, why and when. Of two processes racing, exactly one claims it; from then on every
   reader finds the session gone.
2. **Finish** (`SessionDeleter.finish`): append the `deleted` entry to the session log
   (a repeat returns the stored entry), remove the chunk index, the blobs, the data key and
   the figures, and last the session itself.

A crash between the steps leaves a claimed session that the retention sweep finishes once
its claim is older than a lease (`SweepRetention`), so a deletion is never lost half-way and
its log entry is never missing or written twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from lucid_sessions.app.claims import Claims
from lucid_sessions.app.locks import KeyedLocks
from lucid_sessions.app.usecases.common import mutate
from lucid_sessions.domain.errors import SessionNotFound
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.media_index import MediaIndex
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.ports.telemetry import Telemetry
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session, SessionStatus, validate_id
from lucid_sessions.domain.session_log import DeletionReason, LogEntry, deleted_entry

__all__ = ["DeleteSession", "SessionDeleter"]

_log = logging.getLogger("lucid_sessions.deletion")

_BUSY = (SessionStatus.RECORDING, SessionStatus.PAUSED, SessionStatus.PROCESSING)


class SessionDeleter:
    """The two steps of every deletion (by request, by force, by retention)."""

    def __init__(
        self,
        repo: SessionRepository,
        index: ChunkIndex,
        blobs: BlobStore,
        keys: DataKeyStore,
        stats: PipelineStats,
        log: SessionLog,
        clock: Clock,
        telemetry: Telemetry,
        media: MediaIndex,
        on_logged: Callable[[], None] | None = None,
    ) -> None:
        self._repo, self._index, self._blobs, self._keys = repo, index, blobs, keys
        self._telemetry, self._media = telemetry, media
        self._stats, self._log, self._clock, self._on_logged = stats, log, clock, on_logged

    async def claim(
        self,
        principal: Principal,
        session_id: str,
        reason: DeletionReason | None = None,
        *,
        force: bool = False,
        check: Callable[[Session], None] | None = None,
    ) -> Session:
        """Claim the session for deletion (its guards checked on the freshest state).

        `reason=None` means "request", or "force" when `force` was needed (the session was
        recording, paused or processing). `check` may refuse on the fresh state too. Raises
        what the aggregate's guards raise.
        """

        def apply(session: Session) -> None:
            if check is not None:
                check(session)
            why = reason
            if why is None:
                needed = force and session.status in _BUSY
                why = DeletionReason.FORCE if needed else DeletionReason.REQUEST
            session.begin_deletion(why.value, principal.id, self._clock.now(), force=force)

        session, _ = await mutate(self._repo, principal, session_id, apply)
        return session

    async def finish(self, session: Session) -> LogEntry:
        """Log the deletion and remove everything of a claimed session (idempotent)."""
        deletion = session.deletion
        assert deletion is not None, "finish() takes a claimed session"
        entry = await self._log.append(
            deleted_entry(session, DeletionReason(deletion.reason), deletion.principal, deletion.at)
        )
        sid = session.session_id
        await self._index.delete_session(sid)
        await self._media.delete_session(sid)
        await self._blobs.delete_session(sid)
        await self._keys.delete(sid)
        await self._stats.delete_session(sid)
        with contextlib.suppress(SessionNotFound):  # finished by another process meanwhile
            await self._repo.delete(sid)
        if self._on_logged is not None:
            self._on_logged()
        self._telemetry.session_deleted(deletion.reason)
        _log.info(
            "session_deleted",
            extra={"session_id": sid, "reason": deletion.reason, "log_index": entry.index},
        )
        return entry


class DeleteSession:
    """DELETE /api/v1/sessions/{id}: claim, then finish, under the session's upload lock and
    upload lease (which every replica's uploads take) so that an upload in flight anywhere
    finishes (or has not begun) before the data goes."""

    def __init__(self, deleter: SessionDeleter, locks: KeyedLocks, claims: Claims) -> None:
        self._deleter, self._locks, self._claims = deleter, locks, claims

    async def __call__(self, principal: Principal, session_id: str, *, force: bool = False) -> str:
        validate_id(session_id)
        async with self._locks.hold(session_id), self._claims.hold(f"upload:{session_id}"):
            session = await self._deleter.claim(principal, session_id, force=force)
            await self._deleter.finish(session)
        return session.session_id
