"""MongoMediaIndex: each session's media progress and fragments in MongoDB (see `documents`).

There is no transaction across documents here, so `advance` relies on the order of its
writes, as the port allows: the fragments are upserted first (by `_id`, so writing one again
is harmless), then the progress document moves in one conditional write, and only that write
makes the fragments visible. A crash between the two leaves fragments past the progress,
which nothing reads and the next advance writes again.

A stale `before` is refused before anything is written (the progress is read first), so a
replica that fell behind cannot overwrite fragments that are already visible. Two advances
racing from the same `before` may both write their fragments; the conditional write lets
exactly one move the progress, and both wrote the fragments of the same recording bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.documents import from_native, to_native
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.instants import optional_instant
from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.ports.media_index import MediaIndex, MediaProgress

__all__ = ["MongoMediaIndex", "fragment_id"]

Collection = AsyncCollection[dict[str, Any]]

FRAGMENTS_PER_WRITE = 500
"""Fragments upserted per command. An advance that catches up on a long recording writes
thousands; slices keep each command well inside the socket timeout (`open_mongo`), and
the driver would split a larger one anyway."""

_IN_ORDER = [("index", ASCENDING)]
_COUNTS = {"_id": 0, "chunks": 1, "position": 1, "fragments": 1}


def fragment_id(session_id: str, index: int) -> str:
    return f"{session_id}:{index:013d}"


def _counts(progress: MediaProgress) -> dict[str, int]:
    """What "the progress is still `before`" compares (the port's `advance`)."""
    return {
        "chunks": progress.chunks,
        "position": progress.position,
        "fragments": progress.fragments,
    }


def _fragment_document(session_id: str, fragment: Fragment) -> dict[str, Any]:
    document = to_native(fragment)
    document["_id"] = fragment_id(session_id, fragment.index)
    document["session_id"] = session_id
    return document


class MongoMediaIndex(MediaIndex):
    """Progress in `media_progress` (`_id` = session_id), fragments in `media_fragments`."""

    def __init__(self, progress: Collection, fragments: Collection) -> None:
        self._progress = progress
        self._fragments = fragments

    async def progress(self, session_id: str) -> MediaProgress | None:
        with storage_errors("read media progress"):
            document = await self._progress.find_one({"_id": session_id})
        if document is None:
            return None
        found = from_native(document, MediaProgress)
        # The driver's dates carry its own UTC; the domain's carry `datetime.UTC`.
        return replace(found, started_at=optional_instant(found.started_at))

    async def advance(
        self, before: MediaProgress | None, after: MediaProgress, fragments: Sequence[Fragment]
    ) -> bool:
        sid = after.session_id
        document = to_native(after)
        document["_id"] = sid
        with storage_errors("index media"):
            stored = await self._progress.find_one({"_id": sid}, _COUNTS)
            if stored != (None if before is None else _counts(before)):
                return False  # stale: write nothing, not even fragments nothing would read
            for first in range(0, len(fragments), FRAGMENTS_PER_WRITE):
                documents = [
                    _fragment_document(sid, f)
                    for f in fragments[first : first + FRAGMENTS_PER_WRITE]
                ]
                await self._fragments.bulk_write(
                    [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in documents],
                    ordered=False,
                )
            if before is None:
                try:
                    await self._progress.insert_one(document)
                except DuplicateKeyError:  # a racing advance inserted it first
                    return False
                return True
            result = await self._progress.replace_one({"_id": sid, **_counts(before)}, document)
        return result.matched_count == 1

    async def fragments(self, session_id: str, count: int, start: int = 0) -> list[Fragment]:
        if count <= start:
            return []
        match = {"session_id": session_id, "index": {"$gte": start, "$lt": count}}
        with storage_errors("read media fragments"):
            documents = await self._fragments.find(match, {"_id": 0}).sort(_IN_ORDER).to_list()
        return [from_native(d, Fragment) for d in documents]

    async def delete_session(self, session_id: str) -> None:
        # The progress first: a crash in between leaves fragments nothing reads, never a
        # progress whose fragments are gone.
        with storage_errors("delete the media index"):
            await self._progress.delete_one({"_id": session_id})
            await self._fragments.delete_many({"session_id": session_id})
