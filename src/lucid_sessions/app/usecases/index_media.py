"""The media index, kept as chunks are committed: what playback reads.

Ingest hands every committed chunk to `IndexMedia` while it still holds the session's upload
lock and claim, so one session's chunks are indexed in order, in one place at a time. The
reader's state is stored with the fragments it found (`MediaIndex.advance`), so indexing
resumes exactly where it stopped. A chunk the index lacks (the process died between the
commit and the index write, or the index store was down) is read back from the blob store
and fed first: the index is always rebuilt from the recording itself.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping

from lucid_sessions.app.usecases.read_chunks import ChunkOpener
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.media import MediaReader
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.media_index import MediaIndex, MediaProgress

__all__ = ["IndexMedia"]

_log = logging.getLogger("lucid_sessions.playback")

_REMEMBERED = 1024
"""Sessions whose progress this process keeps in memory (the most recently indexed)."""
_REMEMBERED_STATE_BYTES = 64 * 1024
"""A progress whose reader state is larger (a ``moov`` half read) is not kept in memory."""
_ATTEMPTS = 3


def _video_verdict(progress: MediaProgress | None) -> bool | None:
    """Whether the recording carries a video track: True or False once that cannot change
    any more (its init segment was read, or its reader stopped on bytes it cannot follow),
    None while it is not known yet."""
    if progress is None:
        return None
    reader = MediaReader.resume(progress.reader)
    if reader.init is not None:
        return any(track.handler == "vide" for track in reader.init.tracks)
    return False if reader.failure is not None else None


class IndexMedia:
    """Feeds each session's committed chunks, in order, to its `MediaReader` and stores the
    fragments it completes. The caller holds the session's upload lock and claim."""

    def __init__(self, media: MediaIndex, chunks: ChunkIndex, opener: ChunkOpener) -> None:
        self._media, self._chunks, self._opener = media, chunks, opener
        self._known: OrderedDict[str, MediaProgress | None] = OrderedDict()
        self._video: OrderedDict[str, bool] = OrderedDict()

    async def progress(self, session_id: str) -> MediaProgress | None:
        """The session's progress: this process's own last write, else the store's."""
        if session_id in self._known:
            self._known.move_to_end(session_id)
            return self._known[session_id]
        progress = await self._media.progress(session_id)
        self._remember(session_id, progress)
        return progress

    async def carries_video(self, session_id: str) -> bool:
        """Whether the session's recording is known to be video (its chunks then skip the
        compressor: zstd cannot shrink H.264). Once the answer cannot change (the init segment
        was read, or the reader stopped), it is kept: an upload asks twice, and neither asks
        the store or parses the reader's state again."""
        if session_id in self._video:
            self._video.move_to_end(session_id)
            return self._video[session_id]
        verdict = _video_verdict(await self.progress(session_id))
        if verdict is not None:
            self._video[session_id] = verdict
            while len(self._video) > _REMEMBERED:
                self._video.popitem(last=False)
        return bool(verdict)

    async def committed(self, session_id: str, record: ChunkRecord, data: bytes) -> None:
        """Chunk `record` (bytes `data`) was just committed: index it, and any committed chunk
        before it the index lacks. A store that fails is logged and left to the next chunk or
        the next reader (`catch_up`): the upload it follows has succeeded."""
        try:
            await self._advance(
                session_id, record.sequence_number + 1, {record.sequence_number: (record, data)}
            )
        except StorageUnavailable as exc:
            self._forget(session_id)
            _log.warning(
                "media_index_behind",
                extra={
                    "session_id": session_id,
                    "sequence_number": record.sequence_number,
                    "error": exc.detail,
                },
            )

    async def catch_up(self, session_id: str, chunks_count: int) -> MediaProgress | None:
        """The session's progress once every one of its `chunks_count` committed chunks is
        indexed (the caller holds the session's upload lock and claim)."""
        return await self._advance(session_id, chunks_count, {})

    async def _advance(
        self, session_id: str, upto: int, fresh: Mapping[int, tuple[ChunkRecord, bytes]]
    ) -> MediaProgress | None:
        for _ in range(_ATTEMPTS):
            before = await self.progress(session_id)
            if before is not None and before.chunks >= upto:
                return before
            reader = MediaReader() if before is None else MediaReader.resume(before.reader)
            if reader.failure is not None:
                return before  # stopped for good (bad bytes): later chunks change nothing
            chunks = 0 if before is None else before.chunks
            started_at = None if before is None else before.started_at
            found = []
            async for record, data in self._chunks_from(session_id, chunks, upto, fresh):
                if record.sequence_number == 0:
                    started_at = record.timestamp
                found += reader.feed(data)
                if reader.failure is not None:
                    break  # nothing after this byte can be played: no more chunks to read
            after = MediaProgress(
                session_id=session_id,
                chunks=upto,
                position=reader.position,
                fragments=reader.fragment_count,
                reader=reader.state(),
                started_at=started_at,
            )
            if await self._media.advance(before, after, found):
                self._remember(session_id, after)
                if reader.failure is not None:
                    _log.info(
                        "media_not_playable",
                        extra={
                            "session_id": session_id,
                            "reason": reader.failure.reason,
                            "offset": reader.failure.offset,
                        },
                    )
                return after
            self._forget(session_id)  # another replica moved it: read it again
        return await self.progress(session_id)

    async def _chunks_from(
        self,
        session_id: str,
        first: int,
        upto: int,
        fresh: Mapping[int, tuple[ChunkRecord, bytes]],
    ) -> AsyncIterator[tuple[ChunkRecord, bytes]]:
        """Chunks `first .. upto-1` with their plaintext, one at a time: `fresh` ones as
        given, the others read back (and authenticated) from the blob store."""
        for sequence in range(first, upto):
            if sequence in fresh:
                yield fresh[sequence]
                continue
            record = await self._chunks.get(session_id, sequence)
            yield record, await self._opener.plaintext(record)

    def _remember(self, session_id: str, progress: MediaProgress | None) -> None:
        if progress is not None and len(progress.reader) > _REMEMBERED_STATE_BYTES:
            self._forget(session_id)
            return
        self._known[session_id] = progress
        self._known.move_to_end(session_id)
        while len(self._known) > _REMEMBERED:
            self._known.popitem(last=False)

    def _forget(self, session_id: str) -> None:
        self._known.pop(session_id, None)
