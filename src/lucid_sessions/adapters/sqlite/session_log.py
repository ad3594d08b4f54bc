"""SqliteSessionLog: the session log in the embedded database (one row per entry)."""

from __future__ import annotations

import sqlite3

from lucid_sessions.adapters.documents import from_json, to_json
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.session_log import LogEntry

__all__ = ["SqliteSessionLog"]

_ANCHORED = "anchored_size"


class SqliteSessionLog(SessionLog):
    """Each append runs in one write transaction (BEGIN IMMEDIATE), so concurrent appenders,
    in this process or another on the same file, get distinct gap-free indexes; the unique
    (session_id, type) makes a repeated append return the stored entry."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def append(self, entry: LogEntry) -> LogEntry:
        def insert(conn: sqlite3.Connection) -> LogEntry:
            found = conn.execute(
                "SELECT doc FROM session_log WHERE session_id = ? AND type = ?",
                (entry.session_id, entry.type.value),
            ).fetchone()
            if found is not None:
                return from_json(found[0], LogEntry)
            size = int(
                conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM session_log").fetchone()[0]
            )
            stored = entry.at_index(size)
            conn.execute(
                "INSERT INTO session_log (idx, session_id, type, doc) VALUES (?, ?, ?, ?)",
                (size, entry.session_id, entry.type.value, to_json(stored).decode()),
            )
            return stored

        return await self._db.run(insert)

    async def size(self) -> int:
        # Indexes are dense from 0: the size is the last one plus one (no count of rows).
        return await self._db.read(
            lambda conn: int(
                conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM session_log").fetchone()[0]
            )
        )

    async def entries(self, start: int, end: int) -> list[LogEntry]:
        def select(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT doc FROM session_log WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end),
            ).fetchall()
            return [row[0] for row in rows]

        return [from_json(doc, LogEntry) for doc in await self._db.read(select)]

    async def anchored_size(self) -> int:
        def select(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM log_state WHERE name = ?", (_ANCHORED,))
            found = row.fetchone()
            return 0 if found is None else int(found[0])

        return await self._db.read(select)

    async def record_anchored(self, size: int) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO log_state (name, value) VALUES (?, ?) ON CONFLICT (name)"
                " DO UPDATE SET value = MAX(value, excluded.value)",
                (_ANCHORED, size),
            )
        )
