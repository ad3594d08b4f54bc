"""SqliteChunkIndex: chunk records as JSON documents (`adapters.documents`) beside the columns
that lists and proofs query (sequence, time, leaf hash)."""

from __future__ import annotations

import sqlite3
from typing import Any

from lucid_sessions.adapters.documents import from_json, to_json
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.schema import epoch_micros
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery

__all__ = ["SqliteChunkIndex"]


def _record(doc: str) -> ChunkRecord:
    return from_json(doc, ChunkRecord)


class SqliteChunkIndex(ChunkIndex):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def put(self, record: ChunkRecord) -> None:
        row = (
            record.session_id,
            record.sequence_number,
            epoch_micros(record.timestamp),
            record.leaf_hash,
            to_json(record).decode(),
        )
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO chunks"
                " (session_id, sequence_number, timestamp_us, leaf_hash, doc)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )
        )

    async def get(self, session_id: str, sequence_number: int) -> ChunkRecord:
        def select(conn: sqlite3.Connection) -> tuple[str] | None:
            found: tuple[str] | None = conn.execute(
                "SELECT doc FROM chunks WHERE session_id = ? AND sequence_number = ?",
                (session_id, sequence_number),
            ).fetchone()
            return found

        row = await self._db.read_here(select)
        if row is None:
            raise ChunkNotFound(session_id, sequence_number)
        return _record(row[0])

    async def find(self, query: ChunkQuery) -> ChunkPage:
        where = "session_id = ? AND sequence_number < ?"
        args: list[Any] = [query.session_id, query.committed]
        if query.start_time is not None:
            where += " AND timestamp_us >= ?"
            args.append(epoch_micros(query.start_time))
        if query.end_time is not None:
            where += " AND timestamp_us < ?"
            args.append(epoch_micros(query.end_time))

        def select(conn: sqlite3.Connection) -> tuple[list[str], int]:
            count = f"SELECT COUNT(*) FROM chunks WHERE {where}"  # noqa: S608
            total = int(conn.execute(count, args).fetchone()[0])
            rows = conn.execute(
                f"SELECT doc FROM chunks WHERE {where}"  # noqa: S608
                " ORDER BY sequence_number LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
            return [row[0] for row in rows], total

        docs, total = await self._db.read(select)
        return ChunkPage([_record(doc) for doc in docs], total)

    async def leaf_hashes(self, session_id: str, count: int) -> list[bytes]:
        def select(conn: sqlite3.Connection) -> list[bytes]:
            rows = conn.execute(
                "SELECT sequence_number, leaf_hash FROM chunks"
                " WHERE session_id = ? AND sequence_number < ? ORDER BY sequence_number",
                (session_id, count),
            ).fetchall()
            for expected, row in enumerate(rows):
                if row[0] != expected:
                    raise ChunkNotFound(session_id, expected)
            if len(rows) < count:
                raise ChunkNotFound(session_id, len(rows))
            return [bytes(r[1]) for r in rows]

        return await self._db.read(select)

    async def delete_session(self, session_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM chunks WHERE session_id = ?", (session_id,))
        )
