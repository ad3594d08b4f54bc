"""SQLite adapters of the data-path ports: chunk index, data keys, pipeline figures."""

from __future__ import annotations

import sqlite3
from typing import Any

from lucid_sessions.adapters.session_codec import epoch_micros, from_epoch_micros
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = ["SqliteChunkIndex", "SqliteDataKeyStore", "SqlitePipelineStats"]

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


class SqliteDataKeyStore(DataKeyStore):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    @staticmethod
    def _select(conn: sqlite3.Connection, session_id: str) -> WrappedKey | None:
        row = conn.execute(
            "SELECT key_id, wrapped FROM data_keys WHERE session_id = ?", (session_id,)
        ).fetchone()
        return None if row is None else WrappedKey(key_id=row[0], wrapped=bytes(row[1]))

    async def get(self, session_id: str) -> WrappedKey | None:
        return await self._db.run(lambda conn: self._select(conn, session_id))

    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        def insert(conn: sqlite3.Connection) -> WrappedKey:
            conn.execute(
                "INSERT OR IGNORE INTO data_keys (session_id, key_id, wrapped) VALUES (?, ?, ?)",
                (session_id, key.key_id, key.wrapped),
            )
            stored = self._select(conn, session_id)
            assert stored is not None
            return stored

        return await self._db.run(insert)

    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        def swap(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                "UPDATE data_keys SET key_id = ?, wrapped = ?"
                " WHERE session_id = ? AND key_id = ? AND wrapped = ?",
                (new.key_id, new.wrapped, session_id, old.key_id, old.wrapped),
            ).rowcount
            return bool(changed)

        return await self._db.run(swap)

    async def all(self) -> list[tuple[str, WrappedKey]]:
        def select(conn: sqlite3.Connection) -> list[tuple[str, WrappedKey]]:
            rows = conn.execute(
                "SELECT session_id, key_id, wrapped FROM data_keys ORDER BY session_id"
            ).fetchall()
            return [(r[0], WrappedKey(key_id=r[1], wrapped=bytes(r[2]))) for r in rows]

        return await self._db.run(select)

    async def delete(self, session_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM data_keys WHERE session_id = ?", (session_id,))
        )


class SqlitePipelineStats(PipelineStats):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        rows = [
            (
                session_id,
                stage,
                f.processed,
                f.failed,
                f.bytes_in,
                f.bytes_out,
                f.seconds,
                f.last_error,
            )
            for stage, f in figures.items()
        ]

        def upsert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO pipeline_stats (session_id, stage, processed, failed, bytes_in,"
                " bytes_out, seconds, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (session_id, stage) DO UPDATE SET"
                " processed = processed + excluded.processed,"
                " failed = failed + excluded.failed,"
                " bytes_in = bytes_in + excluded.bytes_in,"
                " bytes_out = bytes_out + excluded.bytes_out,"
                " seconds = seconds + excluded.seconds,"
                " last_error = COALESCE(excluded.last_error, last_error)",
                rows,
            )

        await self._db.run(upsert)

    async def get(self, session_id: str) -> dict[str, StageFigures]:
        def select(conn: sqlite3.Connection) -> dict[str, StageFigures]:
            rows = conn.execute(
                "SELECT stage, processed, failed, bytes_in, bytes_out, seconds, last_error"
                " FROM pipeline_stats WHERE session_id = ?",
                (session_id,),
            ).fetchall()
            return {r[0]: StageFigures(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}

        return await self._db.run(select)

    async def delete_session(self, session_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "DELETE FROM pipeline_stats WHERE session_id = ?", (session_id,)
            )
        )
