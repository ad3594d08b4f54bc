"""Delete a session and everything stored for it."""

from __future__ import annotations

from lucid_sessions.app.locks import KeyedLocks
from lucid_sessions.app.usecases.common import load_visible
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import validate_id

__all__ = ["DeleteSession"]


class DeleteSession:
    """Metadata goes first (the session vanishes at once and atomically), then chunk
    metadata, blobs, the data key and pipeline figures. A crash in between leaves only
    orphaned data of a session that no longer exists, never a session without its data."""

    def __init__(
        self,
        repo: SessionRepository,
        index: ChunkIndex,
        blobs: BlobStore,
        keys: DataKeyStore,
        stats: PipelineStats,
        locks: KeyedLocks,
    ) -> None:
        self._repo, self._index, self._blobs = repo, index, blobs
        self._keys, self._stats, self._locks = keys, stats, locks

    async def __call__(self, principal: Principal, session_id: str, *, force: bool = False) -> str:
        validate_id(session_id)
        # Under the session's upload lock: an upload in flight finishes (or has not begun)
        # before the data goes, so no blob is written for a session already deleted.
        async with self._locks.hold(session_id):
            session = await load_visible(self._repo, principal, session_id)
            session.ensure_deletable(force=force)
            await self._repo.delete(session.session_id, expected_version=session.version)
            await self._index.delete_session(session.session_id)
            await self._blobs.delete_session(session.session_id)
            await self._keys.delete(session.session_id)
            await self._stats.delete_session(session.session_id)
        return session.session_id
