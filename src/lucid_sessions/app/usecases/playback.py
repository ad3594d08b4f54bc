"""Watching a recording: its playback summary, the HLS playlist, its bytes as MP4 (whole or
a clip), and signed playback links.

Every read takes a `PlaybackAccess`: a principal (who may see the session, as everywhere), or
a `PlaybackGrant` from a signed link, which grants this one session's playback and nothing
else. A read first brings the media index up to the session's committed chunks when it lags
(a crash between a commit and its indexing): the index is rebuilt from the recording itself.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lucid_sessions.app.claims import Claims
from lucid_sessions.app.locks import KeyedLocks
from lucid_sessions.app.usecases.common import load_visible
from lucid_sessions.app.usecases.index_media import IndexMedia
from lucid_sessions.app.usecases.read_chunks import Content, ReadChunks
from lucid_sessions.domain.errors import PolicyViolation, SessionNotFound
from lucid_sessions.domain.media import (
    Fragment,
    InitSegment,
    MediaReader,
    Segment,
    clip_fragments,
    listed_segments,
    media_playlist,
    segments,
)
from lucid_sessions.domain.playback_link import (
    PlaybackGrant,
    encode_link,
    new_grant,
    open_link,
)
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.link_signer import LinkSigner
from lucid_sessions.domain.ports.media_index import MediaIndex, MediaProgress
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import SYSTEM, Principal
from lucid_sessions.domain.session import Session

__all__ = [
    "NOT_INDEXED",
    "PlaybackAccess",
    "PlaybackLink",
    "PlaybackLinks",
    "PlaybackView",
    "ReadPlayback",
]

_log = logging.getLogger("lucid_sessions.playback")

PlaybackAccess = Principal | PlaybackGrant
"""Who reads: a principal, or the grant of a signed playback link."""

NOT_INDEXED = "no chunk of the recording has been uploaded yet"


@dataclass(frozen=True, slots=True)
class PlaybackView:
    """The playback summary of a session (`PlaybackResponse`)."""

    session_id: str
    playable: bool
    reason: str | None
    container: str
    codecs: tuple[str, ...]
    duration_seconds: float
    segments: int
    live: bool
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Indexed:
    session: Session
    progress: MediaProgress | None
    init: InitSegment | None
    reason: str | None

    @property
    def live(self) -> bool:
        return self.session.can_grow


_CACHED_FRAGMENTS = 200_000
"""Fragments kept in memory across sessions (about 40 MB; a one-hour recording has 1,800)."""
_CACHED_PLAYLISTS = 4
"""Playlists kept per session (one per query: a bearer token's, a few links')."""


@dataclass(slots=True)
class _Timeline:
    """A session's fragments as far as they are indexed, their segments, and the playlists
    made of them. Stored fragments never change, so a timeline only grows."""

    fragments: list[Fragment]
    segments: list[Segment]
    playlists: dict[tuple[bool, str], str] = field(default_factory=dict)


class ReadPlayback:
    """What players read; every method checks the access first.

    The fragments of the sessions read last are kept in memory (they never change once
    stored): a read fetches only those indexed since, and a playlist is made once per growth
    of the index (a finished recording's, once)."""

    def __init__(
        self,
        repo: SessionRepository,
        media: MediaIndex,
        indexer: IndexMedia,
        reader: ReadChunks,
        locks: KeyedLocks,
        claims: Claims,
    ) -> None:
        self._repo, self._media, self._indexer, self._reader = repo, media, indexer, reader
        self._locks, self._claims = locks, claims
        self._timelines: OrderedDict[str, _Timeline] = OrderedDict()

    async def summary(self, access: PlaybackAccess, session_id: str) -> PlaybackView:
        indexed = await self._indexed(access, session_id)
        timeline = await self._timeline(indexed)
        fragments = timeline.fragments
        listed = listed_segments(timeline.segments, ended=not indexed.live)
        duration = 0.0
        if fragments:
            first, last = fragments[0], fragments[-1]
            duration = (last.start + last.duration - first.start) / last.timescale
        return PlaybackView(
            session_id=session_id,
            playable=indexed.init is not None,
            reason=indexed.reason,
            container="fmp4",
            codecs=() if indexed.init is None else indexed.init.codecs,
            duration_seconds=round(duration, 6),
            segments=len(listed),
            live=indexed.live,
            started_at=None if indexed.progress is None else indexed.progress.started_at,
        )

    async def playlist(self, access: PlaybackAccess, session_id: str, query: str = "") -> str:
        """The HLS media playlist (`PolicyViolation`, 409, when the session is not
        playable). `query` is repeated on every URI it lists (a signed link's token)."""
        indexed = await self._indexed(access, session_id)
        init = _playable(indexed)
        timeline = await self._timeline(indexed)
        assert indexed.progress is not None  # an init segment was read
        key = (not indexed.live, query)
        text = timeline.playlists.get(key)
        if text is None:
            text = media_playlist(
                init,
                timeline.segments,
                live=True,
                ended=not indexed.live,
                started_at=indexed.progress.started_at,
                query=query,
            )
            while len(timeline.playlists) >= _CACHED_PLAYLISTS:
                timeline.playlists.pop(next(iter(timeline.playlists)))
            timeline.playlists[key] = text
        return text

    async def recording(self, access: PlaybackAccess, session_id: str) -> Content:
        """The recording's bytes (every chunk authenticated before its bytes go out)."""
        await self._indexed(access, session_id)  # the access check
        return await self._reader.recording(SYSTEM, session_id)

    async def clip(
        self,
        access: PlaybackAccess,
        session_id: str,
        start_seconds: float | None,
        end_seconds: float | None,
    ) -> Content:
        """A standalone fragmented MP4: the init segment and the fragments from the sync
        sample at or before `start_seconds` up to those that start before `end_seconds`
        (`RangeNotSatisfiable` when that selects nothing)."""
        indexed = await self._indexed(access, session_id)
        init = _playable(indexed)
        fragments = (await self._timeline(indexed)).fragments
        chosen = clip_fragments(fragments, start_seconds, end_seconds)
        recording = await self._reader.recording(SYSTEM, session_id)
        ranges = [(0, init.length), (chosen[0].offset, chosen[-1].end)]
        return _joined(recording, ranges, f"{recording.version}-{ranges[1][0]}-{ranges[1][1]}")

    async def _indexed(self, access: PlaybackAccess, session_id: str) -> _Indexed:
        session = await self._visible(access, session_id)
        progress = await self._media.progress(session_id)
        if progress is None or progress.chunks < session.chunks_count:
            async with (
                self._locks.hold(session_id),
                self._claims.hold(f"upload:{session_id}"),
            ):
                session = await self._visible(access, session_id)
                progress = await self._indexer.catch_up(session_id, session.chunks_count)
        if progress is None:
            return _Indexed(session, None, None, NOT_INDEXED)
        reader = MediaReader.resume(progress.reader)
        reason = None
        if reader.init is None:
            reason = (
                reader.failure.reason
                if reader.failure is not None
                else "the recording's init segment (ftyp and moov) has not arrived yet"
            )
        return _Indexed(session, progress, reader.init, reason)

    async def _visible(self, access: PlaybackAccess, session_id: str) -> Session:
        if isinstance(access, Principal):
            return await load_visible(self._repo, access, session_id)
        if access.session_id != session_id:  # open_link checked it; never trust it twice
            raise SessionNotFound(session_id)
        return await load_visible(self._repo, SYSTEM, session_id)

    async def _timeline(self, indexed: _Indexed) -> _Timeline:
        """The session's fragments up to its progress, fetching only those not yet kept."""
        if indexed.progress is None or indexed.init is None:
            return _Timeline([], [])
        session_id, count = indexed.progress.session_id, indexed.progress.fragments
        kept = self._timelines.get(session_id)
        if kept is not None and len(kept.fragments) == count:
            self._timelines.move_to_end(session_id)
            return kept
        if kept is not None and len(kept.fragments) < count:
            newer = await self._media.fragments(session_id, count, len(kept.fragments))
            fragments = kept.fragments + newer
        else:
            fragments = await self._media.fragments(session_id, count)
        timeline = _Timeline(fragments, segments(fragments))
        self._timelines[session_id] = timeline
        self._timelines.move_to_end(session_id)
        while sum(len(t.fragments) for t in self._timelines.values()) > _CACHED_FRAGMENTS:
            if len(self._timelines) == 1:
                break  # one recording larger than the budget: kept while it is read
            self._timelines.popitem(last=False)
        return timeline


def _playable(indexed: _Indexed) -> InitSegment:
    if indexed.init is None:
        raise PolicyViolation(
            f"session {indexed.session.session_id!r} is not playable: {indexed.reason}"
        )
    return indexed.init


def _joined(content: Content, ranges: list[tuple[int, int]], version: str) -> Content:
    """Bytes `ranges` of `content`, one after the other, as one content."""
    total = sum(end - start for start, end in ranges)

    async def pieces(start: int, end: int) -> AsyncIterator[bytes]:
        parts = []
        offset = 0
        for low, high in ranges:
            length = high - low
            a, b = max(start, offset), min(end, offset + length)
            if a < b:
                parts.append(await content.read(low + a - offset, low + b - offset))
            offset += length

        async def stream() -> AsyncIterator[bytes]:
            for part in parts:
                async for piece in part:
                    yield piece

        return stream()

    return Content(content.session_id, None, version, total, pieces, final=content.final)


@dataclass(frozen=True, slots=True)
class PlaybackLink:
    token: str
    expires_at: datetime


class PlaybackLinks:
    """Signed playback links: made for a principal who may read the session, opened (verified
    in constant time by the link signer) on every playback read that carries one."""

    def __init__(self, repo: SessionRepository, signer: LinkSigner, clock: Clock) -> None:
        self._repo, self._signer, self._clock = repo, signer, clock

    async def make(
        self, principal: Principal, session_id: str, expires_in_seconds: int
    ) -> PlaybackLink:
        session = await load_visible(self._repo, principal, session_id)
        grant = new_grant(
            session.session_id,
            self._signer.key_id,
            self._clock.now().timestamp(),
            expires_in_seconds,
        )
        token = encode_link(grant, self._signer.sign)
        expires_at = datetime.fromtimestamp(grant.expires_at, UTC)
        _log.info(
            "playback_link_made",
            extra={
                "session_id": session.session_id,
                "principal": principal.id,
                "expires_at": expires_at.isoformat(),
                "key_id": grant.key_id,
            },
        )
        return PlaybackLink(token, expires_at)

    def open(self, token: str, session_id: str) -> PlaybackGrant:
        """The grant of `token` for `session_id` now (`InvalidLink`, a 401, otherwise)."""
        return open_link(token, session_id, self._clock.now().timestamp(), self._signer.verify)
