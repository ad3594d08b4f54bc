"""Finalization after stop: verify every blob, final root, signed manifest, log entry,
completed.

Every step is recorded before the next one starts, so a crash at any point resumes where it
stopped: the signature (by the current signing key, which the manifest names by `key_id`) is
saved while the session is still processing and is never made again, the session log's
`completed` entry is appended from that saved manifest (a repeat returns the stored entry),
and only then does the session complete. A completed session therefore always has exactly
one `completed` entry in the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio.to_thread

from lucid_sessions.app.signing import sign_with_current_key
from lucid_sessions.app.usecases.read_chunks import ChunkOpener
from lucid_sessions.domain.errors import IntegrityError, PipelinePaused
from lucid_sessions.domain.manifest import (
    build_manifest,
    canonical_bytes,
    manifest_root,
    manifest_sha256,
)
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.ports.signer import Signer, SigningKey
from lucid_sessions.domain.ports.telemetry import FinalizationOutcome, Telemetry
from lucid_sessions.domain.principal import SYSTEM
from lucid_sessions.domain.session import SessionStatus
from lucid_sessions.domain.session_log import completed_entry

__all__ = ["FinalizeSession"]


class FinalizeSession:
    """Idempotent and resumable: safe to run again after a crash, at any step. A concurrent
    edit makes a save raise ConcurrencyError; the runner then simply runs it again."""

    def __init__(
        self,
        repo: SessionRepository,
        opener: ChunkOpener,
        signer: Signer,
        stats: PipelineStats,
        clock: Clock,
        log: SessionLog,
        telemetry: Telemetry,
        on_logged: Callable[[], None] | None = None,
    ) -> None:
        self._repo, self._opener, self._signer = repo, opener, signer
        self._telemetry = telemetry
        self._stats, self._clock, self._log, self._on_logged = stats, clock, log, on_logged

    async def __call__(self, session_id: str) -> SessionStatus:
        session = await self._repo.get(session_id, fresh=True)  # it decides: past any cache
        if session.status not in (SessionStatus.STOPPED, SessionStatus.PROCESSING):
            return session.status
        if session.pipeline_paused:
            raise PipelinePaused(session_id)
        if session.status is SessionStatus.STOPPED:
            session.begin_processing(self._clock.now())
            await self._repo.save(session)
        started = time.perf_counter()
        chunks = await self._opener.committed_list(session)
        checked = 0
        try:
            for record in chunks:
                await self._opener.plaintext(record)
                checked += record.size_bytes
            root = manifest_root(chunks)
            if session.chunks_count and root != session.merkle_root:
                raise IntegrityError("the chunk index does not reproduce the session's root")
        except IntegrityError as exc:
            session.fail(self._clock.now(), f"finalization failed: {exc.detail}")
            await self._repo.save(session)
            await self._figures(session_id, checked, time.perf_counter() - started, exc.detail)
            return SessionStatus.FAILED
        if session.manifest_signature is None:
            now = self._clock.now()

            def body(key: SigningKey) -> bytes:
                return canonical_bytes(
                    build_manifest(
                        session,
                        chunks,
                        status=SessionStatus.COMPLETED,
                        finalized_at=now,
                        public_key=key.public_key,
                        key_id=key.key_id,
                    )
                )

            # The key may be in a token (a device round trip): off the event loop.
            key, signature = await anyio.to_thread.run_sync(
                sign_with_current_key, self._signer, body
            )
            session.sign_manifest(now, signature, key.public_key, key.key_id)
            await self._repo.save(session)
        signed = build_manifest(
            session,
            chunks,
            status=SessionStatus.COMPLETED,
            finalized_at=session.finalized_at,
            public_key=session.manifest_public_key,
            signature=session.manifest_signature,
            key_id=session.manifest_key_id,
        )
        await self._log.append(completed_entry(session, manifest_sha256(signed), SYSTEM.id))
        session.complete(self._clock.now())
        await self._repo.save(session)
        await self._figures(session_id, checked, time.perf_counter() - started, None)
        if self._on_logged is not None:
            self._on_logged()
        return SessionStatus.COMPLETED

    async def _figures(
        self, session_id: str, checked: int, seconds: float, error: str | None
    ) -> None:
        self._telemetry.stage_seconds("finalization", seconds)
        self._telemetry.finalized(
            FinalizationOutcome.COMPLETED if error is None else FinalizationOutcome.FAILED
        )
        await self._stats.record(
            session_id,
            {
                "finalization": StageFigures(
                    processed=1 if error is None else 0,
                    failed=0 if error is None else 1,
                    bytes_in=checked,
                    bytes_out=checked,
                    seconds=seconds,
                    last_error=error,
                )
            },
        )
