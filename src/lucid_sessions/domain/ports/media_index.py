"""Port: the media index of each session's recording, what playback reads."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lucid_sessions.domain.media import Fragment

__all__ = ["MediaIndex", "MediaProgress"]


@dataclass(frozen=True, slots=True)
class MediaProgress:
    """How far a session's recording is indexed: chunks ``0..chunks-1`` (bytes
    ``0..position-1``) were fed to the reader, whose state after them is `reader`
    (`MediaReader.state()`, which also holds the init segment and any failure), and the
    first `fragments` fragments are stored. `started_at` is the wall clock of media time 0
    (chunk 0's timestamp: an instant of the domain, UTC to the millisecond, which is all a
    store keeps)."""

    session_id: str
    chunks: int
    position: int
    fragments: int
    reader: bytes
    started_at: datetime | None


class MediaIndex(Protocol):
    """Fragments of every session's recording, keyed by (session_id, fragment index), and
    one `MediaProgress` per session.

    Fragments past a session's `MediaProgress.fragments` are invisible: `advance` stores
    them first and then moves the progress, so a crash between the two leaves nothing
    visible that the progress does not cover, and storing a fragment again (same key) is
    harmless. Indexing one session is serialized by the caller; `advance` still refuses a
    stale `before` so that two replicas can never both move it.
    """

    @abc.abstractmethod
    async def progress(self, session_id: str) -> MediaProgress | None:
        """The session's progress, or None when nothing of it was indexed yet."""

    @abc.abstractmethod
    async def advance(
        self, before: MediaProgress | None, after: MediaProgress, fragments: Sequence[Fragment]
    ) -> bool:
        """Store `fragments` (indexes ``before.fragments .. after.fragments - 1``) and set the
        session's progress to `after`, if it is still `before` (None: no progress yet);
        False, moving nothing, when it is not. "Still `before`" compares chunks, position
        and fragments (the reader's state follows from the bytes those count), so of
        advances racing from one `before` exactly one succeeds."""

    @abc.abstractmethod
    async def fragments(self, session_id: str, count: int, start: int = 0) -> list[Fragment]:
        """Fragments ``start .. count-1`` of the session in order (`count`: the progress's
        `fragments`; fewer when some are missing)."""

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None:
        """Forget the session's progress and fragments (nothing when there are none)."""
