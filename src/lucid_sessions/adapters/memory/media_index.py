"""InMemoryMediaIndex: the fake of the media index."""

from __future__ import annotations

from collections.abc import Sequence

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.ports.media_index import MediaIndex, MediaProgress

__all__ = ["InMemoryMediaIndex"]


def _same(stored: MediaProgress | None, before: MediaProgress | None) -> bool:
    """Whether the stored progress is still `before`, as every adapter compares them: by
    chunks, position and fragments (the reader's state follows from the bytes those name,
    so the adapters never compare megabytes of it)."""
    if stored is None or before is None:
        return stored is None and before is None
    return (stored.chunks, stored.position, stored.fragments) == (
        before.chunks,
        before.position,
        before.fragments,
    )


class InMemoryMediaIndex(MediaIndex):
    """Progress and fragments in dicts; `advance` checks and writes with no await between,
    so it is atomic like the stores' transactions and conditional updates."""

    def __init__(self) -> None:
        self._progress: dict[str, MediaProgress] = {}
        self._fragments: dict[str, dict[int, Fragment]] = {}

    async def progress(self, session_id: str) -> MediaProgress | None:
        await checkpoint()
        return self._progress.get(session_id)

    async def advance(
        self, before: MediaProgress | None, after: MediaProgress, fragments: Sequence[Fragment]
    ) -> bool:
        await checkpoint()
        if not _same(self._progress.get(after.session_id), before):
            return False
        stored = self._fragments.setdefault(after.session_id, {})
        for fragment in fragments:
            stored[fragment.index] = fragment
        self._progress[after.session_id] = after
        return True

    async def fragments(self, session_id: str, count: int, start: int = 0) -> list[Fragment]:
        await checkpoint()
        stored = self._fragments.get(session_id, {})
        return [stored[n] for n in sorted(stored) if start <= n < count]

    async def delete_session(self, session_id: str) -> None:
        await checkpoint()
        self._progress.pop(session_id, None)
        self._fragments.pop(session_id, None)
