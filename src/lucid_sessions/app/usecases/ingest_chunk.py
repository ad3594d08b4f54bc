"""Chunk ingest: hash, compress, encrypt, store durably, then commit to the Merkle tree."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread

from lucid_sessions.app.blob_codec import BlobCodec, SealedBlob
from lucid_sessions.app.locks import KeyedLocks
from lucid_sessions.app.usecases.common import MAX_ATTEMPTS, all_at_once, load_visible
from lucid_sessions.domain.chunk import ChunkRecord, check_timestamp, validate_sequence_number
from lucid_sessions.domain.errors import (
    ChunkConflict,
    ConcurrencyError,
    CorruptChunk,
    InvalidValue,
    PipelinePaused,
    StorageFull,
    StorageUnavailable,
)
from lucid_sessions.domain.merkle import blake3_256, leaf_hash
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.cipher import CipherName
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.compressor import Algorithm
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.ports.telemetry import QuotaReason, Telemetry
from lucid_sessions.domain.ports.usage_probe import UsageProbe
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session, validate_id

__all__ = ["ChunkUpload", "IngestChunk", "IngestResult", "ensure_data_key"]


@dataclass(frozen=True, slots=True)
class ChunkUpload:
    session_id: str
    sequence_number: int
    data: bytes
    declared_blake3: str | None = None
    timestamp: datetime | None = None
    duration_seconds: float | None = None
    frame_count: int | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    record: ChunkRecord
    created: bool
    seconds: float


async def ensure_data_key(keys: DataKeyStore, keyring: KeyRing, session_id: str) -> WrappedKey:
    stored = await keys.get(session_id)
    if stored is not None:
        return stored
    _, wrapped = keyring.new_data_key()
    return await keys.put_if_absent(session_id, wrapped)


def _check_declared(upload: ChunkUpload, digest: bytes) -> None:
    if upload.declared_blake3 is None:
        return
    if upload.declared_blake3.strip().lower() != digest.hex():
        raise InvalidValue(
            "X-Content-BLAKE3", f"does not match the body (body BLAKE3 is {digest.hex()})"
        )


class IngestChunk:
    def __init__(
        self,
        repo: SessionRepository,
        index: ChunkIndex,
        blobs: BlobStore,
        keys: DataKeyStore,
        keyring: KeyRing,
        codec: BlobCodec,
        stats: PipelineStats,
        clock: Clock,
        locks: KeyedLocks,
        cipher: CipherName,
        telemetry: Telemetry,
        space: UsageProbe | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        """`space` measures the chunk store: below `min_free_bytes` free, new chunks are
        refused with StorageFull (reads, stop and finalization go on)."""
        self._repo, self._index, self._blobs, self._keys = repo, index, blobs, keys
        self._keyring, self._codec, self._stats, self._clock = keyring, codec, stats, clock
        self._locks, self._cipher = locks, cipher
        self._space, self._min_free, self._telemetry = space, min_free_bytes, telemetry

    async def __call__(self, principal: Principal, upload: ChunkUpload) -> IngestResult:
        started = time.perf_counter()
        validate_sequence_number(upload.sequence_number)
        if upload.timestamp is not None:
            check_timestamp(upload.timestamp, "X-Chunk-Timestamp")
        validate_id(upload.session_id)
        # One upload per session at a time in this process: the blob written for a sequence
        # number is always the one indexed and committed right after it.
        async with self._locks.hold(upload.session_id):
            session = await load_visible(self._repo, principal, upload.session_id)
            if upload.sequence_number < session.chunks_count:
                digest = await anyio.to_thread.run_sync(blake3_256, upload.data)
                _check_declared(upload, digest)
                replay = await self._replay(session, upload, digest)
                return IngestResult(replay, False, time.perf_counter() - started)
            try:
                self._check_accepting(session, upload)
            except StorageFull:
                self._telemetry.quota_refused(QuotaReason.SESSION_QUOTA)
                raise
            await self._check_space(upload)
            try:
                record, sealed, timings = await self._store(session, upload)
            except (StorageUnavailable, StorageFull, CorruptChunk) as exc:
                failed = StageFigures(failed=1, bytes_in=len(upload.data), last_error=exc.detail)
                await self._stats.record(session.session_id, {"storage": failed})
                raise
            committed_at = time.perf_counter()
            await self._commit(principal, session, record)
            timings["merkle_building"] += time.perf_counter() - committed_at
        await self._record_figures(session.session_id, upload, sealed, timings)
        seconds = time.perf_counter() - started
        self._telemetry.chunk_ingested(record.size_bytes, seconds)
        return IngestResult(record, True, seconds)

    async def _replay(self, session: Session, upload: ChunkUpload, digest: bytes) -> ChunkRecord:
        stored = await self._index.get(session.session_id, upload.sequence_number)
        if not stored.same_content(digest, len(upload.data)):
            raise ChunkConflict(
                f"chunk {upload.sequence_number} of session {session.session_id!r} is already "
                "stored with different bytes"
            )
        return stored

    @staticmethod
    def _check_accepting(session: Session, upload: ChunkUpload) -> None:
        session.check_next_chunk(upload.sequence_number, len(upload.data))
        if session.pipeline_paused:
            raise PipelinePaused(session.session_id)

    async def _check_space(self, upload: ChunkUpload) -> None:
        if self._space is None or self._min_free <= 0:
            return
        free = (await self._space.usage()).free_bytes
        if free - len(upload.data) < self._min_free:
            self._telemetry.quota_refused(QuotaReason.FREE_SPACE)
            raise StorageFull(
                "the chunk store is below its free-space floor; new chunks are refused until "
                "space is freed (reads, stop and finalization still work)"
            )

    async def _store(
        self, session: Session, upload: ChunkUpload
    ) -> tuple[ChunkRecord, SealedBlob, dict[str, float]]:
        """Hash and seal at the same time (two worker threads; both release the GIL), check
        the declared hash, then write the blob and index the chunk, also at the same time
        (the index entry stays invisible until the session commits it)."""
        config, storage = session.recording_config, session.storage_config
        compression: Algorithm = (
            "none" if not storage.compression_enabled else config.compression.value
        )
        cipher = self._cipher if storage.encryption_enabled else None
        data_key = (
            await ensure_data_key(self._keys, self._keyring, session.session_id)
            if cipher is not None
            else None
        )
        timings = {"merkle_building": 0.0, "storage": 0.0}
        digest = b""
        sealed: SealedBlob | None = None

        def digest_of() -> None:
            nonlocal digest
            hashed_at = time.perf_counter()
            digest = blake3_256(upload.data)
            timings["merkle_building"] += time.perf_counter() - hashed_at

        def seal() -> None:
            nonlocal sealed
            sealed = self._codec.seal(
                session_id=session.session_id,
                sequence_number=upload.sequence_number,
                data=upload.data,
                compression=compression,
                level=config.compression_level,
                cipher=cipher,
                data_key=data_key,
            )

        async with all_at_once() as work:
            work.start_soon(anyio.to_thread.run_sync, digest_of)
            work.start_soon(anyio.to_thread.run_sync, seal)
        assert sealed is not None
        _check_declared(upload, digest)
        record = ChunkRecord(
            session_id=session.session_id,
            sequence_number=upload.sequence_number,
            blake3=digest,
            leaf_hash=leaf_hash(digest),
            size_bytes=len(upload.data),
            stored_size_bytes=len(sealed.data),
            timestamp=upload.timestamp or self._clock.now(),
            compression=sealed.compression,
            compression_ratio=sealed.compression_ratio,
            encrypted=sealed.encrypted,
            cipher=sealed.cipher,
            duration_seconds=upload.duration_seconds,
            frame_count=upload.frame_count,
        )
        stored_at = time.perf_counter()
        async with all_at_once() as work:
            work.start_soon(
                self._blobs.put, session.session_id, upload.sequence_number, sealed.data
            )
            work.start_soon(self._index.put, record)
        timings["storage"] = time.perf_counter() - stored_at
        return record, sealed, timings

    async def _commit(self, principal: Principal, session: Session, record: ChunkRecord) -> None:
        """Append to the aggregate; on a concurrent write (an edit, a pause), reload and retry."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            session.append_chunk(record, self._clock.now())
            try:
                await self._repo.save(session)
                return
            except ConcurrencyError:
                if attempt == MAX_ATTEMPTS:
                    raise
                session = await load_visible(self._repo, principal, session.session_id)

    async def _record_figures(
        self, session_id: str, upload: ChunkUpload, sealed: SealedBlob, timings: dict[str, float]
    ) -> None:
        size, stored = len(upload.data), len(sealed.data)
        encrypted = sealed.encrypted
        figures = {
            "compression": StageFigures(
                1, 0, size, sealed.compressed_size, round(sealed.compress_seconds, 6)
            ),
            "encryption": StageFigures(
                1 if encrypted else 0,
                0,
                sealed.compressed_size if encrypted else 0,
                stored if encrypted else 0,
                round(sealed.encrypt_seconds, 6),
            ),
            "merkle_building": StageFigures(1, 0, size, 32, round(timings["merkle_building"], 6)),
            "storage": StageFigures(1, 0, stored, stored, round(timings["storage"], 6)),
        }
        await self._stats.record(session_id, figures)
        for stage, stage_figures in figures.items():
            self._telemetry.stage_seconds(stage, stage_figures.seconds)
