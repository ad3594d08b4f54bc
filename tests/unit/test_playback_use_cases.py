"""Playback's use cases over fakes: chunks indexed as they are committed, an index store that
fails (the upload still succeeds; the next read catches up from the stored chunks), video
chunks that skip the compressor, and deletion taking the index with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from lucid_sessions.adapters.memory import InMemoryBlobStore
from lucid_sessions.adapters.memory.media_index import InMemoryMediaIndex
from lucid_sessions.app.usecases.ingest_chunk import ChunkUpload
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.ports.media_index import MediaProgress
from lucid_sessions.domain.principal import SYSTEM
from tests.factories import make_session
from tests.graph import fake_container, fake_stores
from tests.media import fragmented_mp4

pytestmark = pytest.mark.anyio

NO_FLOOR = {"LUCID_CHUNK_STORE_MIN_FREE_MB": "0"}


class FlakyMediaIndex(InMemoryMediaIndex):
    """The in-memory index, down while `down` is set (every call: StorageUnavailable)."""

    down = False

    async def progress(self, session_id: str) -> MediaProgress | None:
        self._check()
        return await super().progress(session_id)

    async def advance(
        self, before: MediaProgress | None, after: MediaProgress, fragments: Sequence[Fragment]
    ) -> bool:
        self._check()
        return await super().advance(before, after, fragments)

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable("the media index is down (test)")


def pieces(data: bytes, size: int = 7_000) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


async def graph(tmp_path: Path, media: InMemoryMediaIndex) -> Container:
    stores = replace(fake_stores(), media=media)
    return fake_container(tmp_path, NO_FLOOR, stores=stores, blob_store=InMemoryBlobStore())


async def recording(container: Container, sid: str) -> None:
    session = make_session(sid)
    session.start(session.created_at)
    await container.session_repository().add(session)


async def test_chunks_are_indexed_as_committed_and_video_skips_the_compressor(
    tmp_path: Path,
) -> None:
    media = InMemoryMediaIndex()
    container = await graph(tmp_path, media)
    await recording(container, "sess-v")
    ingest = container.ingest_chunk()
    compressions = []
    for seq, piece in enumerate(pieces(fragmented_mp4(8))):
        result = await ingest(SYSTEM, ChunkUpload("sess-v", seq, piece))
        compressions.append(result.record.compression)
        progress = await media.progress("sess-v")
        assert progress is not None
        assert progress.chunks == seq + 1, "indexed before the upload returned"
    assert compressions[0] != "none", "before the init segment is known: compressed"
    assert compressions[-1] == "none"
    view = await container.read_playback().summary(SYSTEM, "sess-v")
    assert view.playable
    assert view.segments == 3  # four 2-s fragments, the last withheld while the session grows


async def test_an_index_store_that_fails_loses_no_upload_and_the_next_read_catches_up(
    tmp_path: Path,
) -> None:
    media = FlakyMediaIndex()
    container = await graph(tmp_path, media)
    await recording(container, "sess-f")
    ingest = container.ingest_chunk()
    chunks = pieces(fragmented_mp4(8))
    half = len(chunks) // 2
    for seq in range(half):
        await ingest(SYSTEM, ChunkUpload("sess-f", seq, chunks[seq]))
    media.down = True
    for seq in range(half, len(chunks)):
        created = await ingest(SYSTEM, ChunkUpload("sess-f", seq, chunks[seq]))
        assert created.created, "the upload succeeds with the index down"
    media.down = False
    lagging = await media.progress("sess-f")
    assert lagging is not None
    assert lagging.chunks == half
    view = await container.read_playback().summary(SYSTEM, "sess-f")
    caught_up = await media.progress("sess-f")
    assert caught_up is not None
    assert caught_up.chunks == len(chunks), "read back from the blob store"
    assert view.segments == 3


async def test_deleting_a_session_deletes_its_index(tmp_path: Path) -> None:
    media = InMemoryMediaIndex()
    container = await graph(tmp_path, media)
    await recording(container, "sess-d")
    ingest = container.ingest_chunk()
    for seq, piece in enumerate(pieces(fragmented_mp4(4))):
        await ingest(SYSTEM, ChunkUpload("sess-d", seq, piece))
    progress = await media.progress("sess-d")
    assert progress is not None
    assert await media.fragments("sess-d", progress.fragments)
    await container.delete_session()(SYSTEM, "sess-d", force=True)
    assert await media.progress("sess-d") is None
    assert await media.fragments("sess-d", progress.fragments) == []
