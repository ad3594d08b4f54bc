"""Chunk ingest: hash, compress, encrypt, store durably, then commit to the Merkle tree."""

from __future__ import annotations

import queue
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

import anyio.to_thread

from lucid_sessions.app.blob_codec import BlobCodec, SealedBlob, Sealer
from lucid_sessions.app.claims import Claims
from lucid_sessions.app.locks import KeyedLocks
from lucid_sessions.app.usecases.common import MAX_ATTEMPTS, all_at_once, load_visible
from lucid_sessions.app.usecases.index_media import IndexMedia
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
from lucid_sessions.domain.merkle import blake3_256, blake3_stream, leaf_hash
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

__all__ = ["ChunkBody", "ChunkUpload", "IngestChunk", "IngestResult", "ensure_data_key"]


class ChunkBody(Protocol):
    """A chunk's bytes as they arrive over the network: `size` when it was announced
    (Content-Length), and the pieces in order. Iterating may raise the transport's own
    errors (a stalled or oversized upload); nothing is stored then."""

    @property
    def size(self) -> int | None: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class ChunkUpload:
    """`data`: the chunk's bytes, or a `ChunkBody` still arriving (read once)."""

    session_id: str
    sequence_number: int
    data: bytes | ChunkBody
    declared_blake3: str | None = None
    timestamp: datetime | None = None
    duration_seconds: float | None = None
    frame_count: int | None = None


class _SealSettings(TypedDict):
    """The keywords `BlobCodec.seal` and `BlobCodec.sealer` take beside the chunk's own."""

    compression: Algorithm
    level: int | None
    cipher: CipherName | None
    data_key: WrappedKey | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """How a new chunk of this session is sealed (what the session's settings say)."""

    compression: Algorithm
    level: int | None
    cipher: CipherName | None
    data_key: WrappedKey | None

    def settings(self) -> _SealSettings:
        """The plan as the codec takes it, for `seal` and `sealer` alike."""
        return _SealSettings(
            compression=self.compression,
            level=self.level,
            cipher=self.cipher,
            data_key=self.data_key,
        )


@dataclass(slots=True)
class _Received:
    data: bytes
    digest: bytes
    hash_seconds: float
    sealer: Sealer | None
    plan: _Plan | None


@dataclass(frozen=True, slots=True)
class IngestResult:
    record: ChunkRecord
    created: bool
    seconds: float


async def ensure_data_key(keys: DataKeyStore, keyring: KeyRing, session_id: str) -> WrappedKey:
    stored = await keys.get(session_id)
    if stored is not None:
        return stored
    # A token's key ring wraps inside the token: a device round trip, kept off the event loop.
    _, wrapped = await anyio.to_thread.run_sync(keyring.new_data_key)
    return await keys.put_if_absent(session_id, wrapped)


def _check_declared(upload: ChunkUpload, digest: bytes) -> None:
    if upload.declared_blake3 is None:
        return
    if upload.declared_blake3.strip().lower() != digest.hex():
        raise InvalidValue(
            "declared_blake3", f"does not match the body (body BLAKE3 is {digest.hex()})"
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
        claims: Claims,
        cipher: CipherName,
        telemetry: Telemetry,
        media: IndexMedia,
        space: UsageProbe | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        """`media` indexes each committed chunk for playback. `space` measures the chunk
        store: below `min_free_bytes` free, new chunks are refused with StorageFull (reads,
        stop and finalization go on)."""
        self._repo, self._index, self._blobs, self._keys = repo, index, blobs, keys
        self._keyring, self._codec, self._stats, self._clock = keyring, codec, stats, clock
        self._locks, self._claims, self._cipher = locks, claims, cipher
        self._space, self._min_free, self._telemetry = space, min_free_bytes, telemetry
        self._media = media

    async def __call__(self, principal: Principal, upload: ChunkUpload) -> IngestResult:
        """Refuse what can be refused before the body is read (unknown session, wrong state,
        a gap, a quota the announced size breaks); receive the body while a worker thread
        hashes and compresses it; then, holding the session's upload lock, check again on
        the fresh session, seal, store durably and commit."""
        started = time.perf_counter()
        validate_sequence_number(upload.sequence_number)
        if upload.timestamp is not None:
            check_timestamp(upload.timestamp, "timestamp")
        validate_id(upload.session_id)
        # Every read here decides (a refusal, the order of chunks): past any cache, so another
        # replica's stale copy never turns a recorder away.
        early = await load_visible(self._repo, principal, upload.session_id, fresh=True)
        size = len(upload.data) if isinstance(upload.data, bytes) else upload.data.size
        plan = None
        if upload.sequence_number >= early.chunks_count:
            self._check_accepting(early, upload.sequence_number, size or 0)
            plan = await self._plan(early)
        received = await self._receive(upload, early, plan if size is not None else None)
        # One upload per session at a time, in this process (a lock) and across replicas (a
        # lease in the shared store): the blob written for a sequence number is always the
        # one indexed and committed right after it.
        async with (
            self._locks.hold(upload.session_id),
            self._claims.hold(f"upload:{upload.session_id}"),
        ):
            session = await load_visible(self._repo, principal, upload.session_id, fresh=True)
            _check_declared(upload, received.digest)
            if upload.sequence_number < session.chunks_count:
                replay = await self._replay(session, upload.sequence_number, received)
                return IngestResult(replay, False, time.perf_counter() - started)
            self._check_accepting(session, upload.sequence_number, len(received.data))
            await self._check_space(len(received.data))
            try:
                record, sealed, timings = await self._store(session, upload, received)
            except (StorageUnavailable, StorageFull, CorruptChunk) as exc:
                failed = StageFigures(failed=1, bytes_in=len(received.data), last_error=exc.detail)
                await self._stats.record(session.session_id, {"storage": failed})
                raise
            committed_at = time.perf_counter()
            await self._commit(principal, session, record)
            timings["merkle_building"] += time.perf_counter() - committed_at
            # Still under the session's lock and claim: chunks are indexed in order.
            await self._media.committed(session.session_id, record, received.data)
        await self._record_figures(session.session_id, len(received.data), sealed, timings)
        seconds = time.perf_counter() - started
        self._telemetry.chunk_ingested(record.size_bytes, seconds)
        return IngestResult(record, True, seconds)

    async def _plan(self, session: Session) -> _Plan:
        """The session's settings; no compression once its recording is known to be video
        (H.264 and its kin are compressed already: zstd would spend the CPU for nothing)."""
        config, storage = session.recording_config, session.storage_config
        compress = storage.compression_enabled and not await self._media.carries_video(
            session.session_id
        )
        compression: Algorithm = config.compression.value if compress else "none"
        cipher = self._cipher if storage.encryption_enabled else None
        data_key = (
            await ensure_data_key(self._keys, self._keyring, session.session_id)
            if cipher is not None
            else None
        )
        return _Plan(compression, config.compression_level, cipher, data_key)

    async def _receive(
        self, upload: ChunkUpload, session: Session, plan: _Plan | None
    ) -> _Received:
        """The whole chunk and its BLAKE3. With a `plan` (a new chunk of announced size),
        a worker thread hashes and compresses each piece as it arrives, while this task
        reads the next one, so little is left to do when the last piece is in."""
        body = upload.data
        if isinstance(body, bytes):
            hashed_at = time.perf_counter()
            digest = await anyio.to_thread.run_sync(blake3_256, body)
            return _Received(body, digest, time.perf_counter() - hashed_at, None, None)
        size = body.size
        sealer = None
        if plan is not None and size is not None:
            sealer = self._codec.sealer(
                session_id=session.session_id,
                sequence_number=upload.sequence_number,
                size=size,
                **plan.settings(),
            )
        hasher = blake3_stream()
        to_hash: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        to_seal: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        hash_seconds = 0.0

        def hash_pieces() -> None:
            nonlocal hash_seconds
            while (piece := to_hash.get()) is not None:
                hashed_at = time.perf_counter()
                hasher.update(piece)
                hash_seconds += time.perf_counter() - hashed_at

        def seal_pieces(sealer: Sealer) -> None:
            while (piece := to_seal.get()) is not None:
                sealer.update(piece)

        received: list[bytes] = []
        async with all_at_once() as work:
            # Two threads: BLAKE3 and compression both release the GIL, so with the task
            # reading the network that is three things at once on a Raspberry Pi's cores.
            work.start_soon(anyio.to_thread.run_sync, hash_pieces)
            if sealer is not None:
                work.start_soon(anyio.to_thread.run_sync, seal_pieces, sealer)
            try:
                async for piece in body:
                    if piece:
                        received.append(piece)
                        to_hash.put(piece)
                        if sealer is not None:
                            to_seal.put(piece)
            finally:
                to_hash.put(None)  # always: the workers must end, whatever happened here
                to_seal.put(None)
        data = b"".join(received)
        if size is not None and len(data) != size:
            raise InvalidValue("size", f"announced {size} bytes, {len(data)} came")
        return _Received(data, hasher.digest(), hash_seconds, sealer, plan)

    async def _replay(self, session: Session, sequence: int, received: _Received) -> ChunkRecord:
        stored = await self._index.get(session.session_id, sequence)
        if not stored.same_content(received.digest, len(received.data)):
            raise ChunkConflict(
                f"chunk {sequence} of session {session.session_id!r} is already "
                "stored with different bytes"
            )
        return stored

    def _check_accepting(self, session: Session, sequence: int, size: int) -> None:
        """The session takes chunk `sequence` of `size` bytes now (a refusal for its quota
        is counted)."""
        try:
            session.check_next_chunk(sequence, size)
        except StorageFull:
            self._telemetry.quota_refused(QuotaReason.SESSION_QUOTA)
            raise
        if session.pipeline_paused:
            raise PipelinePaused(session.session_id)

    async def _check_space(self, size: int) -> None:
        if self._space is None or self._min_free <= 0:
            return
        free = (await self._space.usage()).free_bytes
        if free - size < self._min_free:
            self._telemetry.quota_refused(QuotaReason.FREE_SPACE)
            raise StorageFull(
                "the chunk store is below its free-space floor; new chunks are refused until "
                "space is freed (reads, stop and finalization still work)"
            )

    async def _store(
        self, session: Session, upload: ChunkUpload, received: _Received
    ) -> tuple[ChunkRecord, SealedBlob, dict[str, float]]:
        """Finish sealing (what the worker compressed, when the session's settings are still
        those it compressed for; else seal afresh), then write the blob and index the chunk
        at the same time (the index entry stays invisible until the session commits it)."""
        plan = await self._plan(session)
        data = received.data
        if received.sealer is not None and received.plan == plan:
            sealer = received.sealer
            sealed = await anyio.to_thread.run_sync(lambda: sealer.finish(data))
        else:
            sealed = await anyio.to_thread.run_sync(
                lambda: self._codec.seal(
                    session_id=session.session_id,
                    sequence_number=upload.sequence_number,
                    data=data,
                    **plan.settings(),
                )
            )
        timings = {"merkle_building": received.hash_seconds, "storage": 0.0}
        record = ChunkRecord(
            session_id=session.session_id,
            sequence_number=upload.sequence_number,
            blake3=received.digest,
            leaf_hash=leaf_hash(received.digest),
            size_bytes=len(data),
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
                session = await load_visible(self._repo, principal, session.session_id, fresh=True)

    async def _record_figures(
        self, session_id: str, size: int, sealed: SealedBlob, timings: dict[str, float]
    ) -> None:
        stored = len(sealed.data)
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
