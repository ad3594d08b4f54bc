"""SqliteChunkIndex: chunk metadata in the embedded database."""

from __future__ import annotations

import sqlite3
from typing import Any

from lucid_sessions.adapters.session_codec import epoch_micros, from_epoch_micros
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery

__all__ = ["SqliteChunkIndex"]


_COLUMNS = (
    "session_id, sequence_number, blake3, leaf_hash, size_bytes, stored_size_bytes,"
    " timestamp_us, compression, compression_ratio, encrypted, cipher, duration_seconds,"
    " frame_count"
)


def _to_row(r: ChunkRecord) -> tuple[Any, ...]:
    return (
        r.session_id,
        r.sequence_number,
        r.blake3,
        r.leaf_hash,
        r.size_bytes,
        r.stored_size_bytes,
        epoch_micros(r.timestamp),
        r.compression,
        r.compression_ratio,
        int(r.encrypted),
        r.cipher,
        r.duration_seconds,
        r.frame_count,
    )


def _from_row(row: tuple[Any, ...]) -> ChunkRecord:
    return ChunkRecord(
        session_id=row[0],
        sequence_number=row[1],
        blake3=bytes(row[2]),
        leaf_hash=bytes(row[3]),
        size_bytes=row[4],
        stored_size_bytes=row[5],
        timestamp=from_epoch_micros(row[6]),
        compression=row[7],
        compression_ratio=row[8],
        encrypted=bool(row[9]),
        cipher=row[10],
        duration_seconds=row[11],
        frame_count=row[12],
    )


class SqliteChunkIndex(ChunkIndex):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def put(self, record: ChunkRecord) -> None:
        row = _to_row(record)
        await self._db.run(
            lambda conn: conn.execute(
                f"INSERT OR REPLACE INTO chunks ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",  # noqa: S608
                row,
            )
        )

    async def get(self, session_id: str, sequence_number: int) -> ChunkRecord:
        def select(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            found: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_COLUMNS} FROM chunks WHERE session_id = ? AND sequence_number = ?",  # noqa: S608
                (session_id, sequence_number),
            ).fetchone()
            return found

        row = await self._db.run(select)
        if row is None:
            raise ChunkNotFound(session_id, sequence_number)
        return _from_row(row)

    async def find(self, query: ChunkQuery) -> ChunkPage:
        where = "session_id = ? AND sequence_number < ?"
        args: list[Any] = [query.session_id, query.committed]
        if query.start_time is not None:
            where += " AND timestamp_us >= ?"
            args.append(epoch_micros(query.start_time))
        if query.end_time is not None:
            where += " AND timestamp_us < ?"
            args.append(epoch_micros(query.end_time))

        def select(conn: sqlite3.Connection) -> ChunkPage:
            count = f"SELECT COUNT(*) FROM chunks WHERE {where}"  # noqa: S608
            total = int(conn.execute(count, args).fetchone()[0])
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM chunks WHERE {where}"  # noqa: S608
                " ORDER BY sequence_number LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
            return ChunkPage([_from_row(r) for r in rows], total)

        return await self._db.run(select)

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

        return await self._db.run(select)

    async def delete_session(self, session_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM chunks WHERE session_id = ?", (session_id,))
        )
