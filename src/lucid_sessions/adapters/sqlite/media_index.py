"""SqliteMediaIndex: each session's media progress (one row, the reader's state a BLOB) and its
fragments (one row each, by session and index), in the embedded database (schema version 6).

`advance` is one write transaction: the fragments are written, then the progress row is
moved only where it still holds `before`'s counts; when it does not, the transaction is
rolled back, so a refused advance leaves no trace, not even invisible fragments.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.schema import EPOCH, epoch_micros
from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.ports.media_index import MediaIndex, MediaProgress

__all__ = ["SqliteMediaIndex"]

_PROGRESS_COLUMNS = "session_id, chunks, position, fragments, reader, started_us"
_FRAGMENT_COLUMNS = "idx, offset, length, start, duration, timescale, sync"

ProgressRow = tuple[str, int, int, int, bytes, int | None]
FragmentRow = tuple[int, int, int, int, int, int, int]


class _Stale(Exception):
    """The progress is no longer `before`: roll the transaction back (never raised past
    `advance`)."""


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_micros(moment)


def _moment(micros: int | None) -> datetime | None:
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


def _progress(row: ProgressRow) -> MediaProgress:
    return MediaProgress(row[0], row[1], row[2], row[3], bytes(row[4]), _moment(row[5]))


def _fragment(row: FragmentRow) -> Fragment:
    return Fragment(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))


class SqliteMediaIndex(MediaIndex):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def progress(self, session_id: str) -> MediaProgress | None:
        # On a pooled reader, not `read_here`: the reader's state may be megabytes.
        def select(conn: sqlite3.Connection) -> ProgressRow | None:
            found: ProgressRow | None = conn.execute(
                f"SELECT {_PROGRESS_COLUMNS} FROM media_progress WHERE session_id = ?",  # noqa: S608
                (session_id,),
            ).fetchone()
            return found

        row = await self._db.read(select)
        return None if row is None else _progress(row)

    async def advance(
        self, before: MediaProgress | None, after: MediaProgress, fragments: Sequence[Fragment]
    ) -> bool:
        sid = after.session_id
        rows = [
            (sid, f.index, f.offset, f.length, f.start, f.duration, f.timescale, f.starts_on_sync)
            for f in fragments
        ]
        progress = (after.chunks, after.position, after.fragments, after.reader)
        started = _micros(after.started_at)

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                f"INSERT OR REPLACE INTO media_fragments (session_id, {_FRAGMENT_COLUMNS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if before is None:
                moved = conn.execute(
                    f"INSERT INTO media_progress ({_PROGRESS_COLUMNS})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
                    (sid, *progress, started),
                )
            else:
                moved = conn.execute(
                    "UPDATE media_progress"
                    " SET chunks = ?, position = ?, fragments = ?, reader = ?, started_us = ?"
                    " WHERE session_id = ? AND chunks = ? AND position = ? AND fragments = ?",
                    (*progress, started, sid, before.chunks, before.position, before.fragments),
                )
            if moved.rowcount != 1:
                raise _Stale

        try:
            await self._db.run(write)
        except _Stale:
            return False
        return True

    async def fragments(self, session_id: str, count: int, start: int = 0) -> list[Fragment]:
        def select(conn: sqlite3.Connection) -> list[FragmentRow]:
            rows: list[FragmentRow] = conn.execute(
                f"SELECT {_FRAGMENT_COLUMNS} FROM media_fragments"  # noqa: S608
                " WHERE session_id = ? AND idx >= ? AND idx < ? ORDER BY idx",
                (session_id, start, count),
            ).fetchall()
            return rows

        return [_fragment(row) for row in await self._db.read(select)]

    async def delete_session(self, session_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM media_progress WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM media_fragments WHERE session_id = ?", (session_id,))

        await self._db.run(delete)
