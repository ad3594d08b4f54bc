"""SqlitePipelineStats: pipeline figures in the embedded database."""

from __future__ import annotations

import sqlite3

from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = ["SqlitePipelineStats"]


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

        return await self._db.read(select)

    async def delete_session(self, session_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "DELETE FROM pipeline_stats WHERE session_id = ?", (session_id,)
            )
        )
