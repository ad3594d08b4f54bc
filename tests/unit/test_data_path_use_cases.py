"""Ingest, read, proofs, finalization, verification and key rotation over fakes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.adapters.crypto.keyring import StaticKeyRing
from lucid_sessions.adapters.memory import (
    InMemoryBlobStore,
    InMemorySessionLog,
    InMemorySigner,
    RecordingTelemetry,
)
from lucid_sessions.app.usecases.finalize import FinalizeSession
from lucid_sessions.app.usecases.ingest_chunk import ChunkUpload, IngestChunk
from lucid_sessions.app.usecases.integrity import ProveIntegrity
from lucid_sessions.app.usecases.pipeline import ControlPipeline
from lucid_sessions.app.usecases.read_chunks import ChunkOpener, ReadChunks
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.domain.errors import (
    ChunkConflict,
    ChunkNotFound,
    CorruptChunk,
    InvalidTransition,
    InvalidValue,
    PipelinePaused,
    StorageFull,
)
from lucid_sessions.domain.manifest import canonical_bytes, manifest_sha256
from lucid_sessions.domain.merkle import (
    blake3_256,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import SYSTEM
from lucid_sessions.domain.session import SessionStatus
from lucid_sessions.domain.session_log import LogEntry, LogEventType
from lucid_sessions.domain.values import Compression, RecordingConfig, StorageConfig
from tests.factories import make_session
from tests.graph import fake_container

pytestmark = pytest.mark.anyio


NO_FREE_SPACE_FLOOR = {"LUCID_CHUNK_STORE_MIN_FREE_MB": "0"}
"""The container's IngestChunk refuses chunks below a free-space floor on the real disk under
tmp_path (64 MB by default); these tests are about the data path, not the disk."""


@dataclass
class World:
    container: Container
    repo: SessionRepository
    index: ChunkIndex
    blobs: BlobStore
    keys: DataKeyStore
    stats: PipelineStats
    keyring: StaticKeyRing
    master: bytes
    signer: InMemorySigner
    ingest: IngestChunk
    opener: ChunkOpener
    reader: ReadChunks
    integrity: ProveIntegrity
    finalize: FinalizeSession
    pipeline: ControlPipeline
    log: SessionLog
    telemetry: RecordingTelemetry


@pytest.fixture
def world(tmp_path: Path) -> World:
    master = os.urandom(32)
    keyring = StaticKeyRing({"k1": master}, "k1")
    signer, telemetry = InMemorySigner(), RecordingTelemetry()
    container = fake_container(
        tmp_path,
        {"LUCID_CIPHER": "chacha20-poly1305", **NO_FREE_SPACE_FLOOR},
        blob_store=InMemoryBlobStore(),
        keyring=keyring,
        signer=signer,
        telemetry=telemetry,
        owner="this-process",
    )
    return World(
        container,
        container.session_repository(),
        container.chunk_index(),
        container.blob_store(),
        container.data_keys(),
        container.pipeline_stats(),
        keyring,
        master,
        signer,
        container.ingest_chunk(),
        container.chunk_opener(),
        container.read_chunks(),
        container.prove_integrity(),
        container.finalize_session(),
        container.control_pipeline(),
        container.session_log(),
        telemetry,
    )


async def recording(world: World, sid: str = "sess-a", **kwargs: object) -> str:
    session = make_session(sid, **kwargs)  # type: ignore[arg-type]
    session.start(session.created_at)
    await world.repo.add(session)
    return sid


async def plaintext(world: World, sid: str, n: int) -> bytes:
    """Chunk `n` as a client reads it: through the reader, as a whole."""
    content = await world.reader.chunk(SYSTEM, sid, n)
    return b"".join([piece async for piece in await content.read()])


def chunk(n: int, size: int = 50_000) -> bytes:
    return (f"frame {n} ".encode() * (size // 8 + 1))[:size]


async def put(world: World, sid: str, n: int, data: bytes | None = None) -> bool:
    upload = ChunkUpload(sid, n, chunk(n) if data is None else data)
    return (await world.ingest(SYSTEM, upload)).created


async def test_ingest_commits_counters_root_and_figures(world: World) -> None:
    sid = await recording(world)
    blobs = [chunk(n, 10_000 + n) for n in range(5)]
    for n, data in enumerate(blobs):
        assert await put(world, sid, n, data)
    session = await world.repo.get(sid)
    assert session.chunks_count == 5
    assert session.size_bytes == sum(map(len, blobs))
    assert 0 < session.stored_bytes < session.size_bytes, "screen-like data compresses"
    leaves = [leaf_hash(blake3_256(d)) for d in blobs]
    assert session.merkle_root == root_from_leaf_hashes(leaves)
    figures = await world.stats.get(sid)
    assert figures["storage"].processed == 5
    assert figures["compression"].bytes_in == session.size_bytes
    assert figures["encryption"].processed == 5
    for n, data in enumerate(blobs):
        assert await plaintext(world, sid, n) == data
    assert world.telemetry.counts[("chunk_ingested", "")] == 5
    assert world.telemetry.ingested_bytes == session.size_bytes
    assert world.telemetry.counts[("stage_seconds", "compression")] == 5
    assert world.telemetry.counts[("chunk_corrupt", "")] == 0


async def test_replays_gaps_and_conflicts(world: World) -> None:
    sid = await recording(world)
    await put(world, sid, 0)
    assert not await put(world, sid, 0), "an identical replay is not a new chunk"
    assert world.telemetry.counts[("chunk_ingested", "")] == 1
    with pytest.raises(ChunkConflict):
        await put(world, sid, 0, b"other bytes")
    with pytest.raises(ChunkConflict, match="expected chunk 1"):
        await put(world, sid, 2)
    assert (await world.repo.get(sid)).chunks_count == 1


async def test_declared_hash_must_match(world: World) -> None:
    sid = await recording(world)
    data = chunk(0)
    with pytest.raises(InvalidValue, match="declared_blake3"):
        await world.ingest(SYSTEM, ChunkUpload(sid, 0, data, declared_blake3="00" * 32))
    assert (await world.repo.get(sid)).chunks_count == 0
    ok = ChunkUpload(sid, 0, data, declared_blake3=blake3_256(data).hex().upper())
    assert (await world.ingest(SYSTEM, ok)).created


async def test_only_while_recording_and_not_paused(world: World) -> None:
    session = make_session("sess-c")
    await world.repo.add(session)
    with pytest.raises(InvalidTransition, match="created"):
        await put(world, "sess-c", 0)
    sid = await recording(world)
    await world.pipeline.set_paused(SYSTEM, sid, True)
    with pytest.raises(PipelinePaused):
        await put(world, sid, 0)
    await world.pipeline.set_paused(SYSTEM, sid, False)
    assert await put(world, sid, 0)


async def test_concurrent_uploads_of_one_session_commit_each_once(world: World) -> None:
    sid = await recording(world)
    outcomes: list[str] = []

    async def upload(n: int) -> None:
        try:
            outcomes.append("new" if await put(world, sid, n) else "replay")
        except ChunkConflict:
            outcomes.append("conflict")

    async with anyio.create_task_group() as tg:
        for n in (0, 0, 0, 1):
            tg.start_soon(upload, n)
    session = await world.repo.get(sid)
    assert outcomes.count("new") == session.chunks_count
    assert outcomes.count("new") >= 1
    for n in range(session.chunks_count):
        assert await plaintext(world, sid, n) == chunk(n)


async def test_settings_choose_compression_and_encryption(world: World) -> None:
    plain = await recording(
        world,
        "sess-plain",
        storage_config=StorageConfig(encryption_enabled=False, compression_enabled=False),
    )
    lz4 = await recording(
        world, "sess-lz4", recording_config=RecordingConfig(compression=Compression.LZ4)
    )
    await put(world, plain, 0)
    await put(world, lz4, 0)
    random_bytes = os.urandom(20_000)
    await put(world, lz4, 1, random_bytes)
    p0 = await world.index.get(plain, 0)
    assert (p0.compression, p0.encrypted, p0.cipher) == ("none", False, None)
    assert await world.keys.get(plain) is None, "no data key for an unencrypted session"
    assert (await world.index.get(lz4, 0)).compression == "lz4"
    assert (await world.index.get(lz4, 1)).compression == "none", "incompressible stays raw"
    assert await plaintext(world, lz4, 1) == random_bytes


async def test_tampered_or_moved_blobs_never_read(world: World) -> None:
    sid = await recording(world)
    other = await recording(world, "sess-b")
    for n in range(3):
        await put(world, sid, n)
        await put(world, other, n, chunk(n + 10))
    blob = bytearray(await world.blobs.get(sid, 1))
    blob[-5] ^= 0x01
    await world.blobs.put(sid, 1, bytes(blob))
    await world.blobs.put(sid, 2, await world.blobs.get(sid, 0))
    await world.blobs.put(sid, 0, await world.blobs.get(other, 0))
    for n in range(3):
        with pytest.raises(CorruptChunk, match=f"chunk {n} "):
            await plaintext(world, sid, n)
    assert world.telemetry.counts[("chunk_corrupt", "")] == 3
    report = await world.container.verify_session()(SYSTEM, sid)
    assert [seq for seq, _ in report.corrupt] == [0, 1, 2]
    assert not report.ok


async def test_missing_blob_is_corruption(world: World) -> None:
    sid = await recording(world)
    await put(world, sid, 0)
    await world.blobs.delete_session(sid)
    with pytest.raises(CorruptChunk, match="missing"):
        await plaintext(world, sid, 0)


async def test_proofs_verify_at_every_size(world: World) -> None:
    sid = await recording(world)
    for n in range(7):
        await put(world, sid, n, chunk(n, 100))
    session = await world.repo.get(sid)
    assert session.merkle_root is not None
    for size in range(1, 8):
        for k in range(size):
            proof = await world.integrity.inclusion(SYSTEM, sid, k, size)
            assert verify_inclusion(proof.leaf_hash, k, size, proof.audit_path, proof.root)
        c = await world.integrity.consistency(SYSTEM, sid, size, None)
        assert c.second_root == session.merkle_root
        assert verify_consistency(size, 7, c.first_root, c.second_root, c.proof)
    with pytest.raises(InvalidValue, match="tree_size"):
        await world.integrity.inclusion(SYSTEM, sid, 3, 3)
    with pytest.raises(ChunkNotFound):
        await world.integrity.inclusion(SYSTEM, sid, 7, None)
    with pytest.raises(InvalidValue):
        await world.integrity.consistency(SYSTEM, sid, 5, 4)


async def test_finalization_signs_a_verifiable_manifest(world: World) -> None:
    sid = await recording(world)
    for n in range(4):
        await put(world, sid, n)
    session = await world.repo.get(sid)
    session.stop(session.created_at)
    await world.repo.save(session)
    assert await world.finalize(sid) is SessionStatus.COMPLETED
    assert await world.finalize(sid) is SessionStatus.COMPLETED, "idempotent"
    assert world.telemetry.counts[("finalized", "completed")] == 1, "counted once"
    assert world.telemetry.counts[("stage_seconds", "finalization")] == 1
    manifest = await world.integrity.manifest(SYSTEM, sid)
    assert manifest["status"] == "completed"
    assert manifest["chunks_count"] == 4
    public_key = bytes.fromhex(manifest["public_key"])
    signature = bytes.fromhex(manifest["signature"])
    assert verify_signature(public_key, canonical_bytes(manifest), signature)
    tampered = dict(manifest, size_bytes=manifest["size_bytes"] + 1)
    assert not verify_signature(public_key, canonical_bytes(tampered), signature)
    report = await world.container.verify_session()(SYSTEM, sid)
    assert report.ok
    assert report.manifest == "valid"


async def test_a_completed_session_has_exactly_one_log_entry_even_after_a_crash(
    world: World,
) -> None:
    sid = await recording(world)
    for n in range(3):
        await put(world, sid, n)
    session = await world.repo.get(sid)
    session.stop(session.created_at)
    await world.repo.save(session)

    class CrashAfterAppend(InMemorySessionLog):
        """The process dies right after the entry is stored, before the session completes."""

        crashed = False

        async def append(self, entry: LogEntry) -> LogEntry:
            stored = await super().append(entry)
            if not self.crashed:
                self.crashed = True
                raise RuntimeError("power cut")
            return stored

    log = CrashAfterAppend()
    world.finalize = world.container.finalize_session(log=log)
    with pytest.raises(RuntimeError):
        await world.finalize(sid)
    interrupted = await world.repo.get(sid)
    assert interrupted.status is SessionStatus.PROCESSING
    assert interrupted.manifest_signature is not None, "signed before the entry was written"
    assert await world.finalize(sid) is SessionStatus.COMPLETED
    (entry,) = await log.entries(0, 10)
    manifest = await world.integrity.manifest(SYSTEM, sid)
    assert entry.type is LogEventType.COMPLETED
    assert entry.manifest_sha256 == manifest_sha256(manifest)
    assert entry.merkle_root == manifest["merkle_root"]
    assert (entry.chunks_count, entry.size_bytes) == (3, manifest["size_bytes"])
    assert entry.at == (await world.repo.get(sid)).finalized_at
    assert await world.finalize(sid) is SessionStatus.COMPLETED
    assert await log.size() == 1


async def test_finalization_fails_a_corrupt_session_and_waits_while_paused(world: World) -> None:
    sid = await recording(world)
    await put(world, sid, 0)
    session = await world.repo.get(sid)
    session.stop(session.created_at)
    session.set_pipeline_paused(True, session.created_at)
    await world.repo.save(session)
    with pytest.raises(PipelinePaused):
        await world.finalize(sid)
    assert (await world.repo.get(sid)).status is SessionStatus.STOPPED
    await world.pipeline.set_paused(SYSTEM, sid, False)
    blob = bytearray(await world.blobs.get(sid, 0))
    blob[-1] ^= 0xFF
    await world.blobs.put(sid, 0, bytes(blob))
    assert await world.finalize(sid) is SessionStatus.FAILED
    failed = await world.repo.get(sid)
    assert failed.error is not None
    assert "corrupt" in failed.error
    assert (await world.stats.get(sid))["finalization"].failed == 1
    assert world.telemetry.counts[("finalized", "failed")] == 1
    assert world.telemetry.counts[("finalized", "completed")] == 0


async def test_rewrap_keeps_data_readable(world: World) -> None:
    sid = await recording(world)
    await put(world, sid, 0)
    before = await world.keys.get(sid)
    assert before is not None
    rotated = StaticKeyRing({"k1": world.master, "k2": os.urandom(32)}, "k2")
    report = await world.container.rewrap_data_keys(keyring=rotated)()
    assert (report.rewrapped, report.current_key_id) == (1, "k2")
    after = await world.keys.get(sid)
    assert after is not None
    assert after.key_id == "k2"
    assert rotated.unwrap(after) == world.keyring.unwrap(before)
    assert (await world.container.rewrap_data_keys(keyring=rotated)()).already_current == 1


class GatedBlobStore(InMemoryBlobStore):
    """Holds every write until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = anyio.Event()
        self.writing = anyio.Event()

    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None:
        self.writing.set()
        await self.gate.wait()
        await super().put(session_id, sequence_number, blob)


async def test_delete_waits_for_an_upload_in_flight_and_leaves_no_blob(tmp_path: Path) -> None:
    blobs = GatedBlobStore()
    container = fake_container(
        tmp_path,
        {"LUCID_CIPHER": "aes-256-gcm", **NO_FREE_SPACE_FLOOR},
        blob_store=blobs,
        keyring=StaticKeyRing({"k1": os.urandom(32)}, "k1"),
        telemetry=RecordingTelemetry(),
        owner="this-process",
    )
    repo, keys = container.session_repository(), container.data_keys()
    ingest, delete = container.ingest_chunk(), container.delete_session()
    session = make_session("sess-d")
    session.start(session.created_at)
    await repo.add(session)
    outcomes: list[str] = []

    async def upload() -> None:
        outcomes.append(
            "stored" if (await ingest(SYSTEM, ChunkUpload("sess-d", 0, chunk(0)))).created else "?"
        )

    async def remove() -> None:
        await blobs.writing.wait()  # the upload is writing its blob now
        outcomes.append(await delete(SYSTEM, "sess-d", force=True))

    async with anyio.create_task_group() as tg:
        tg.start_soon(upload)
        tg.start_soon(remove)
        await blobs.writing.wait()
        await anyio.sleep(0.05)
        assert outcomes == [], "delete waits for the upload's lock"
        blobs.gate.set()
    assert outcomes == ["stored", "sess-d"]
    with pytest.raises(ChunkNotFound):
        await blobs.get("sess-d", 0)
    assert await keys.get("sess-d") is None


# -- chunks that arrive in pieces ---------------------------------------------------------------


class Arriving:
    """A `ChunkBody` of `data` in pieces of `piece` bytes; `fail_after` pieces it raises (a
    dropped connection), `announce` overrides the announced size."""

    def __init__(
        self,
        data: bytes,
        piece: int = 7_000,
        *,
        announce: int | str | None = "exact",
        fail_after: int | None = None,
    ) -> None:
        self.data, self.piece, self.fail_after = data, piece, fail_after
        self.size = len(data) if announce == "exact" else announce  # type: ignore[assignment]
        self.pieces_read = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for start in range(0, len(self.data), self.piece):
            if self.fail_after is not None and self.pieces_read >= self.fail_after:
                raise ConnectionResetError("the recorder went away")
            self.pieces_read += 1
            await anyio.sleep(0)
            yield self.data[start : start + self.piece]


@pytest.mark.parametrize("announce", ["exact", None])
async def test_a_chunk_arriving_in_pieces_is_stored_as_if_whole(
    world: World, announce: str | None
) -> None:
    sid = await recording(world)
    await put(world, sid, 0)
    data = chunk(1, 300_000)
    result = await world.ingest(SYSTEM, ChunkUpload(sid, 1, Arriving(data, announce=announce)))
    assert result.created
    assert result.record.blake3 == blake3_256(data)
    assert result.record.compression == "zstd"
    assert await plaintext(world, sid, 1) == data
    # A retry of the same bytes in pieces is a replay; other bytes are a conflict.
    again = await world.ingest(SYSTEM, ChunkUpload(sid, 1, Arriving(data, 4096)))
    assert not again.created
    with pytest.raises(ChunkConflict):
        await world.ingest(SYSTEM, ChunkUpload(sid, 1, Arriving(data[:-1] + b"!")))


async def test_a_refusal_comes_before_the_body_is_read(world: World) -> None:
    sid = await recording(world)
    body = Arriving(chunk(5))
    with pytest.raises(ChunkConflict, match="expected chunk 0"):
        await world.ingest(SYSTEM, ChunkUpload(sid, 5, body))
    assert body.pieces_read == 0
    small = await recording(world, "sess-q", storage_config=StorageConfig(max_size_gb=0.001))
    big = Arriving(b"x" * 1_000_001)
    with pytest.raises(StorageFull):
        await world.ingest(SYSTEM, ChunkUpload(small, 0, big))
    assert big.pieces_read == 0


async def test_a_body_that_breaks_off_stores_nothing(world: World) -> None:
    sid = await recording(world)
    broken = Arriving(chunk(0, 100_000), fail_after=3)
    with pytest.raises(ConnectionResetError):
        await world.ingest(SYSTEM, ChunkUpload(sid, 0, broken))
    assert (await world.repo.get(sid)).chunks_count == 0
    short = Arriving(chunk(0, 100_000), announce=100_001)
    with pytest.raises(InvalidValue, match="size"):
        await world.ingest(SYSTEM, ChunkUpload(sid, 0, short))
    assert (await world.repo.get(sid)).chunks_count == 0
    assert await put(world, sid, 0), "the recorder's retry is stored"


async def test_settings_changed_while_the_body_arrived_are_the_ones_used(world: World) -> None:
    """Compression ran for the settings read before the body came; the session turned
    encryption off meanwhile: the chunk is sealed again, as the session says now."""
    sid = await recording(world)
    data = chunk(0, 200_000)

    class ChangingMidway(Arriving):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            first = True
            async for piece in super().__aiter__():
                if first:
                    session = await world.repo.get(sid)
                    session.update(
                        session.created_at,
                        storage_config=StorageConfig(encryption_enabled=False),
                    )
                    await world.repo.save(session)
                    first = False
                yield piece

    result = await world.ingest(SYSTEM, ChunkUpload(sid, 0, ChangingMidway(data)))
    assert not result.record.encrypted
    assert await plaintext(world, sid, 0) == data
